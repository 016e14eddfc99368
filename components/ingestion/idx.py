"""Pure core of ingestion: find, validate and read Fashion-MNIST IDX files.

No TFX here, so every rule is unit-testable. Files are read with
tf.io.gfile, so a data directory may be on GCS or S3 (Kubeflow, Dataflow).
"""
import gzip
import hashlib
import os
import struct
import sys
import tempfile
import urllib.request
import zlib

import numpy as np
import tensorflow as tf

from components import features
from components.ingestion import data_sources

IMAGES_MAGIC = 2051  # IDX: unsigned byte, 3 dimensions
LABELS_MAGIC = 2049  # IDX: unsigned byte, 1 dimension

# The official files: uncompressed size -> SHA-256 of the uncompressed bytes.
# A file of exactly this size claims to be the official one and must match.
OFFICIAL_SHA256 = {
    'train-images-idx3-ubyte': (47040016, 'c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888'),
    'train-labels-idx1-ubyte': (60008, 'bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9'),
    't10k-images-idx3-ubyte': (7840016, '5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b'),
    't10k-labels-idx1-ubyte': (10008, '0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34'),
}


class DataError(ValueError):
  """Bad or missing input data; the message names the file and the problem."""


def example_id(split, index):
  """The stable id of an example: '<split>-<index in the IDX file>'."""
  return f'{split}-{index}'


def example_index(example_id_bytes):
  """The IDX index back from an example id (bytes, as parsed from a tf.Example)."""
  return int(example_id_bytes.rsplit(b'-', 1)[1])


def find_file(data_dir, stem):
  """Returns the path of `stem` or `stem.gz` in data_dir, or None."""
  for name in (stem + '.gz', stem):
    path = os.path.join(data_dir, name)
    if tf.io.gfile.exists(path) and not tf.io.gfile.isdir(path):
      return path
  return None


def has_dataset(data_dir):
  return bool(data_dir) and all(find_file(data_dir, s) for s in data_sources.ALL_STEMS)


def read_bytes(path):
  """Reads a file, decompressing it when it is gzipped (by its magic bytes)."""
  with tf.io.gfile.GFile(path, 'rb') as f:
    raw = f.read()
  if raw[:2] != b'\x1f\x8b':
    return raw
  try:
    return gzip.decompress(raw)
  except (EOFError, OSError, zlib.error) as e:
    raise DataError(f'{path}: corrupt or truncated gzip data ({e})') from e


def _check_official_checksum(path, stem, content):
  size, sha256 = OFFICIAL_SHA256[stem]
  if len(content) == size:
    digest = hashlib.sha256(content).hexdigest()
    if digest != sha256:
      raise DataError(
          f'{path}: has the size of the official {stem} but its SHA-256 is '
          f'{digest}, not {sha256}: the file is corrupt')


def parse_idx(path, content, expected_magic):
  """Parses IDX bytes into a uint8 array, validating the header and size."""
  header_dims = 3 if expected_magic == IMAGES_MAGIC else 1
  header_size = 4 + 4 * header_dims
  if len(content) < header_size:
    raise DataError(f'{path}: file too short for an IDX header '
                    f'({len(content)} bytes)')
  magic, = struct.unpack('>i', content[:4])
  if magic != expected_magic:
    raise DataError(f'{path}: wrong magic number {magic}, expected '
                    f'{expected_magic} (not an IDX '
                    f'{"image" if expected_magic == IMAGES_MAGIC else "label"} file)')
  dims = struct.unpack(f'>{header_dims}i', content[4:header_size])
  if expected_magic == IMAGES_MAGIC and dims[1:] != (features.IMAGE_SIZE,) * 2:
    raise DataError(f'{path}: images are {dims[1]}x{dims[2]}, expected '
                    f'{features.IMAGE_SIZE}x{features.IMAGE_SIZE}')
  expected_len = header_size + int(np.prod(dims))
  if len(content) != expected_len:
    raise DataError(f'{path}: header announces {dims[0]} items '
                    f'({expected_len} bytes) but the file has {len(content)} '
                    'bytes: truncated or padded')
  return np.frombuffer(content, np.uint8, offset=header_size).reshape(dims)


def load_split(data_dir, split):
  """Returns (images uint8 [n, 28, 28], labels uint8 [n]) of a split."""
  arrays = []
  for stem, magic in zip(data_sources.FILE_STEMS[split], (IMAGES_MAGIC, LABELS_MAGIC)):
    path = find_file(data_dir, stem)
    if path is None:
      raise DataError(f'{os.path.join(data_dir, stem)}[.gz]: file missing')
    content = read_bytes(path)
    _check_official_checksum(path, stem, content)
    arrays.append(parse_idx(path, content, magic))
  images, labels = arrays
  if len(images) != len(labels):
    raise DataError(f'{data_dir}: {split} split has {len(images)} images but '
                    f'{len(labels)} labels')
  if labels.size and labels.max() >= features.NUM_CLASSES:
    raise DataError(f'{data_dir}: {split} labels hold class {labels.max()}, '
                    f'expected 0..{features.NUM_CLASSES - 1}')
  return images, labels


def _download(dest_dir):
  """Downloads the four official files into dest_dir, verifying them."""
  os.makedirs(dest_dir, exist_ok=True)
  for stem in data_sources.ALL_STEMS:
    dest = os.path.join(dest_dir, stem + '.gz')
    if os.path.isfile(dest):
      continue
    url = data_sources.DOWNLOAD_BASE_URL + stem + '.gz'
    fd, tmp = tempfile.mkstemp(dir=dest_dir, suffix='.part')
    os.close(fd)
    try:
      def progress(blocks, block_size, total, name=stem):
        done = min(blocks * block_size, total) if total > 0 else blocks * block_size
        pct = f'{100 * done / total:5.1f}%' if total > 0 else f'{done} B'
        sys.stderr.write(f'\rdownloading {name}.gz {pct}')
      urllib.request.urlretrieve(url, tmp, reporthook=progress)
      sys.stderr.write('\n')
      content = read_bytes(tmp)
      digest = hashlib.sha256(content).hexdigest()
      if digest != OFFICIAL_SHA256[stem][1]:
        raise DataError(f'{url}: downloaded content has SHA-256 {digest}, '
                        f'expected {OFFICIAL_SHA256[stem][1]}')
      os.replace(tmp, dest)
    finally:
      if os.path.exists(tmp):
        os.remove(tmp)


def resolve_data_dir(data_dir=None, download=True):
  """Finds a directory holding the four IDX files, downloading as a last resort.

  Order: data_sources.candidates(data_dir), then a download into the Keras
  cache.
  """
  tried = []
  for origin, path in data_sources.candidates(data_dir):
    if not path:
      tried.append(f'{origin}: not set')
      continue
    if has_dataset(path):
      return path if '://' in path else os.path.abspath(path)
    if origin == data_sources.EXPLICIT_ORIGIN:
      # An explicit directory that lacks files is an error, not a fallback.
      missing = [s for s in data_sources.ALL_STEMS if not find_file(path, s)]
      raise DataError(data_sources.missing_files_message(path, missing))
    tried.append(f'{origin}: {path} (no complete set of the four IDX files)')
  if download:
    keras_cache = os.path.expanduser(data_sources.KERAS_CACHE_DIR)
    try:
      _download(keras_cache)
      return keras_cache
    except (OSError, DataError) as e:
      tried.append(f'download from {data_sources.DOWNLOAD_BASE_URL}: {e}')
  raise DataError(
      'Fashion-MNIST not found. Tried:\n  ' + '\n  '.join(tried) +
      '\nProvide the four IDX files (train-images-idx3-ubyte, '
      'train-labels-idx1-ubyte, t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte,'
      ' gzipped or not) with --data_dir or $' + data_sources.DATA_DIR_ENV +
      ', or install them with `apt-get install dataset-fashion-mnist`.')


def write_idx(path, array, gzipped=True):
  """Writes a uint8 array as an IDX file (used by tests and tools)."""
  array = np.asarray(array, np.uint8)
  magic = IMAGES_MAGIC if array.ndim == 3 else LABELS_MAGIC
  content = struct.pack(f'>i{array.ndim}i', magic, *array.shape) + array.tobytes()
  opener = gzip.open if gzipped else open
  with opener(path, 'wb') as f:
    f.write(content)
