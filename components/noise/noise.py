"""Pure core of noise augmentation: deterministic Gaussian noise per example.

noisy = clip(clean + noise_factor * n, 0, 1), n ~ N(0, 1), exactly the
tutorial's formula. The noise of an example depends only on (seed, example
id), so any runner, sharding, worker count or order gives the same output.
"""
import hashlib
import math
import numbers

import numpy as np

from components import features


# The seed is also the Trainer's: keras.utils.set_random_seed seeds numpy,
# whose seeds are 32-bit, so a larger one would fail only after ingestion
# and noise had run.
MAX_SEED = 2**32 - 1


def validate_noise_params(noise_factor, seed):
  """Raises ValueError naming the parameter when it is out of range."""
  if isinstance(noise_factor, bool) or not isinstance(noise_factor, numbers.Real):
    raise ValueError(f'noise_factor must be a number, got {noise_factor!r}')
  if not math.isfinite(noise_factor) or noise_factor < 0:
    raise ValueError(f'noise_factor must be finite and >= 0, got {noise_factor!r}')
  if (isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or
      not 0 <= seed <= MAX_SEED):
    raise ValueError(f'seed must be an integer in [0, {MAX_SEED}], got {seed!r}')


def example_key(seed, example_id):
  """The Philox key of an example: the first 128 bits of SHA-256(seed, id).

  SHA-256 is stable across processes and platforms, unlike hash().
  """
  digest = hashlib.sha256(seed.to_bytes(8, 'little') + example_id).digest()
  return np.frombuffer(digest, '<u8', count=2)


def draw_noise(seed, example_ids, pixels=features.IMAGE_PIXELS):
  """Standard normal noise, one row of `pixels` per example id.

  Row i is what np.random.Generator(np.random.Philox(key=example_key(seed,
  ids[i]))) draws first. One bit generator is re-keyed per example through
  its public `state`: that costs 2 us where constructing a Philox costs 25.
  """
  bit_generator = np.random.Philox(key=0)
  generator = np.random.Generator(bit_generator)
  state = bit_generator.state
  fresh_counter = np.zeros_like(state['state']['counter'])
  noise = np.empty((len(example_ids), pixels), np.float32)
  for row, example_id in zip(noise, example_ids):
    state['state'] = {'counter': fresh_counter, 'key': example_key(seed, example_id)}
    bit_generator.state = state
    generator.standard_normal(pixels, np.float32, out=row)
  return noise


def add_noise(clean, noise, noise_factor):
  """clip(clean + noise_factor * noise, 0, 1), as float32."""
  return np.clip(clean + np.float32(noise_factor) * noise, 0.0, 1.0).astype(np.float32)


def to_unit_float(pixels):
  """uint8 pixel values 0..255 -> float32 in [0, 1], as the tutorial scales."""
  return np.asarray(pixels, np.float32) / np.float32(255.0)
