"""Pure core of noise augmentation: deterministic Gaussian noise per example.

noisy = clip(clean + noise_factor * n, 0, 1), n ~ N(0, 1), exactly the
tutorial's formula. The noise of an example depends only on (seed, example
id), so any runner, sharding, worker count or order gives the same output.
"""
import hashlib
import math
import numbers

import numpy as np

from pipeline import configs


def validate_noise_params(noise_factor, seed):
  """Raises ValueError naming the parameter when it is out of range."""
  if isinstance(noise_factor, bool) or not isinstance(noise_factor, numbers.Real):
    raise ValueError(f'noise_factor must be a number, got {noise_factor!r}')
  if not math.isfinite(noise_factor) or noise_factor < 0:
    raise ValueError(f'noise_factor must be finite and >= 0, got {noise_factor!r}')
  if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
    raise ValueError(f'seed must be an integer >= 0, got {seed!r}')


def example_rng(seed, example_id):
  """A counter-based Philox generator keyed by a hash of (seed, example id).

  SHA-256 is stable across processes and platforms, unlike hash(); Philox
  is cheap to key, which matters once per example.
  """
  digest = hashlib.sha256(seed.to_bytes(8, 'little') + example_id).digest()
  return np.random.Generator(np.random.Philox(key=int.from_bytes(digest[:16], 'little')))


def draw_noise(seed, example_ids, pixels=configs.IMAGE_PIXELS):
  """Standard normal noise, one row of `pixels` per example id."""
  noise = np.empty((len(example_ids), pixels), np.float32)
  for row, example_id in zip(noise, example_ids):
    example_rng(seed, example_id).standard_normal(pixels, np.float32, out=row)
  return noise


def add_noise(clean, noise, noise_factor):
  """clip(clean + noise_factor * noise, 0, 1), as float32."""
  return np.clip(clean + np.float32(noise_factor) * noise, 0.0, 1.0).astype(np.float32)


def to_unit_float(pixels):
  """uint8 pixel values 0..255 -> float32 in [0, 1], as the tutorial scales."""
  return np.asarray(pixels, np.float32) / np.float32(255.0)
