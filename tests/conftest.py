"""Shared fixtures: tiny Fashion-MNIST-like IDX files and a LocalDagRunner helper."""
import os
import shutil
import sys
import warnings

warnings.filterwarnings('ignore', category=FutureWarning)
os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')

import numpy as np  # pylint: disable=g-import-not-at-top
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
  sys.path.insert(0, ROOT)
# Beam multi-processing workers and TFX's module-file installs import by module path.
os.environ['PYTHONPATH'] = os.pathsep.join(p for p in (ROOT, os.environ.get('PYTHONPATH')) if p)

from components import features
from components.ingestion import data_sources
from components.ingestion import idx  # pylint: disable=g-import-not-at-top

REAL_DATA_DIR = data_sources.DEBIAN_DATA_DIR


def make_images(n, seed=0):
  """n 28x28 uint8 images of bright rectangles on black, labels 0..9.

  Structured like clothing silhouettes so that a denoiser can learn them.
  """
  rng = np.random.default_rng(seed)
  images = np.zeros((n, features.IMAGE_SIZE, features.IMAGE_SIZE), np.uint8)
  labels = (np.arange(n) % features.NUM_CLASSES).astype(np.uint8)
  for image, label in zip(images, labels):
    top, left = rng.integers(2, 8, size=2)
    height = 10 + label
    width = 8 + rng.integers(0, 10)
    image[top:top + height, left:left + width] = rng.integers(150, 256)
  return images, labels


def write_dataset(data_dir, n_train, n_eval, gzipped=True, seed=0):
  os.makedirs(data_dir, exist_ok=True)
  suffix = '.gz' if gzipped else ''
  for split, n, offset in ((features.TRAIN_SPLIT, n_train, 0), (features.EVAL_SPLIT, n_eval, 1)):
    images, labels = make_images(n, seed + offset)
    image_stem, label_stem = data_sources.FILE_STEMS[split]
    idx.write_idx(os.path.join(data_dir, image_stem + suffix), images, gzipped)
    idx.write_idx(os.path.join(data_dir, label_stem + suffix), labels, gzipped)
  return str(data_dir)


# Broken exports the data validation must stop: pixel values inverted, every
# label the same class, images at a third of their brightness.
FAULTS = ('inverted', 'one class', 'dimmed')


def write_faulty_span(span_dir, fault, n_train=1000, n_eval=200):
  """A span of the test images (train and eval) spoilt by fault, replacing span_dir."""
  shutil.rmtree(span_dir, ignore_errors=True)
  os.makedirs(span_dir)
  for split, n, seed in (('train', n_train, 30), ('eval', n_eval, 31)):
    images, labels = make_images(n, seed)
    if fault == 'inverted':
      images = 255 - images
    elif fault == 'dimmed':
      images = images // 3
    elif fault == 'one class':
      labels = np.zeros_like(labels)
    images_stem, labels_stem = data_sources.FILE_STEMS[split]
    idx.write_idx(os.path.join(span_dir, f'{images_stem}.gz'), images)
    idx.write_idx(os.path.join(span_dir, f'{labels_stem}.gz'), labels)


@pytest.fixture
def tiny_data_dir(tmp_path):
  """48 train and 24 eval images, gzipped like the official files."""
  return write_dataset(tmp_path / 'data', 48, 24)


def real_data_available():
  return idx.has_dataset(REAL_DATA_DIR)
