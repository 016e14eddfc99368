"""Pure core of ingestion: find, validate and read Fashion-MNIST IDX files.

No TFX here, so every rule is unit-testable. Files are read with
tf.io.gfile, so a data directory may be on GCS or S3 (Kubeflow, Dataflow).
"""
import contextlib
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
from components.ingestion import spans

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


def example_id(split, index, span=spans.FLAT_SPAN):
  """The stable id of an example: '<split>-<index in the IDX file>', 'span-<N>/' before it for span N.

  It keys the example's noise: a flat directory's ids, and so its noise, are
  those of the project before spans.
  """
  within_span = f'{split}-{index}'
  return within_span if span == spans.FLAT_SPAN else f'{spans.span_dir_name(span)}/{within_span}'


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
  """Whether data_dir holds the four files, or span directories (checked when they are used)."""
  if not data_dir or not tf.io.gfile.isdir(data_dir):
    return False
  return (data_sources.has_span_dirs(tf.io.gfile.listdir(data_dir)) or
          all(find_file(data_dir, s) for s in data_sources.ALL_STEMS))


def spans_to_use(data_dir, num_spans):
  """spans.spans_to_use() through TensorFlow's file systems (gs://, s3://, local)."""
  return spans.spans_to_use(data_dir, num_spans, listdir=tf.io.gfile.listdir,
                            isdir=tf.io.gfile.isdir, exists=tf.io.gfile.exists)


def input_fingerprint(span_dirs):
  """SHA-256 of the bytes of the four files of each span in {span: directory}.

  The content, not TFX's names, sizes and modification times: those are
  seconds, so a file rewritten within the same second at the same size (or
  copied with its time kept, `cp -p`, `rsync -t`) would look unchanged. Reading
  Fashion-MNIST's 30 MB of gzip costs about 0.1 s.
  """
  digest = hashlib.sha256()
  for span in sorted(span_dirs):
    for stem in data_sources.ALL_STEMS:
      path = _split_file(span_dirs[span], stem)
      size = tf.io.gfile.stat(path).length
      digest.update(f'{span}/{os.path.basename(path)}:{size}\n'.encode())
      with tf.io.gfile.GFile(path, 'rb') as f:
        while block := f.read(BLOCK_SIZE):
          digest.update(block)
  return f'sha256:{digest.hexdigest()}'


GZIP_MAGIC = b'\x1f\x8b'
# Uncompressed bytes read at a time when a file is checked: memory stays flat
# however large the file.
BLOCK_SIZE = 1 << 20


class _Stream:
  """A file's uncompressed bytes, read a piece at a time; gzip damage is a DataError."""

  def __init__(self, path, stream):
    self.path = path
    self._stream = stream

  def read(self, size):
    """Up to size bytes; fewer only at the end of the file."""
    try:
      return self._stream.read(size)
    except (EOFError, OSError, zlib.error) as e:
      raise DataError(f'{self.path}: corrupt or truncated gzip data ({e})') from e


@contextlib.contextmanager
def open_uncompressed(path):
  """Opens path for reading front to back, decompressing it when gzipped (by its magic bytes).

  gzip decompresses as it is read, so nothing holds the whole file; a gzip
  stream cannot be entered mid-way without decompressing what precedes it.
  """
  with tf.io.gfile.GFile(path, 'rb') as f:
    gzipped = f.read(len(GZIP_MAGIC)) == GZIP_MAGIC
    f.seek(0)
    if not gzipped:
      yield _Stream(path, f)
      return
    with gzip.GzipFile(fileobj=f, mode='rb') as decompressed:
      yield _Stream(path, decompressed)


def _parse_header(path, header, expected_magic):
  """The dimensions an IDX header announces, checked against what the file must hold."""
  header_size = 4 + 4 * _num_dims(expected_magic)
  if len(header) < header_size:
    raise DataError(f'{path}: file too short for an IDX header '
                    f'({len(header)} bytes)')
  magic, = struct.unpack('>i', header[:4])
  if magic != expected_magic:
    raise DataError(f'{path}: wrong magic number {magic}, expected '
                    f'{expected_magic} (not an IDX '
                    f'{"image" if expected_magic == IMAGES_MAGIC else "label"} file)')
  dims = struct.unpack(f'>{_num_dims(expected_magic)}i', header[4:header_size])
  if expected_magic == IMAGES_MAGIC and dims[1:] != (features.IMAGE_SIZE,) * 2:
    raise DataError(f'{path}: images are {dims[1]}x{dims[2]}, expected '
                    f'{features.IMAGE_SIZE}x{features.IMAGE_SIZE}')
  return dims


def _num_dims(magic):
  return 3 if magic == IMAGES_MAGIC else 1


class IdxReader:
  """An open IDX file: its header (read on opening), then its items, front to back."""

  def __init__(self, stream, expected_magic):
    self._stream = stream
    self.header = stream.read(4 + 4 * _num_dims(expected_magic))
    self.dims = _parse_header(stream.path, self.header, expected_magic)
    self._items_read = 0

  @property
  def size(self):
    """The file's uncompressed size, as its header announces it."""
    return len(self.header) + int(np.prod(self.dims))

  def read(self, size):
    """Up to size raw bytes after what was read so far (header included)."""
    return self._stream.read(size)

  def read_items(self, count):
    """The next count items, uint8 [count, *item shape]."""
    item_shape = self.dims[1:]
    item_size = int(np.prod(item_shape))
    content = self.read(count * item_size)
    if len(content) != count * item_size:
      raise DataError(
          f'{self._stream.path}: header announces {self.dims[0]} items but the file '
          f'ends within item {self._items_read + len(content) // item_size}: truncated')
    self._items_read += count
    return np.frombuffer(content, np.uint8).reshape((count,) + item_shape)


@contextlib.contextmanager
def open_idx(path, expected_magic):
  """An IdxReader of path, its header checked."""
  with open_uncompressed(path) as stream:
    yield IdxReader(stream, expected_magic)


def _scan_file(path, stem, expected_magic):
  """Checks an IDX file in one pass of BLOCK_SIZE reads; returns (item count, largest value).

  The header says how long the file must be: counting the bytes read catches
  a truncated or padded file. A file whose header gives it the size of the
  official one claims to be it, and must have its SHA-256.
  """
  official_size, official_sha256 = OFFICIAL_SHA256[stem]
  with open_idx(path, expected_magic) as reader:
    digest = hashlib.sha256(reader.header) if reader.size == official_size else None
    length, largest = len(reader.header), 0
    while block := reader.read(BLOCK_SIZE):
      length += len(block)
      largest = max(largest, int(np.frombuffer(block, np.uint8).max()))
      if digest:
        digest.update(block)
  if length != reader.size:
    raise DataError(f'{path}: header announces {reader.dims[0]} items '
                    f'({reader.size} bytes) but the file has {length} '
                    'bytes: truncated or padded')
  if digest and digest.hexdigest() != official_sha256:
    raise DataError(
        f'{path}: has the size of the official {stem} but its SHA-256 is '
        f'{digest.hexdigest()}, not {official_sha256}: the file is corrupt')
  return reader.dims[0], largest


def _split_file(data_dir, stem):
  path = find_file(data_dir, stem)
  if path is None:
    raise DataError(f'{os.path.join(data_dir, stem)}[.gz]: file missing')
  return path


def validate_split(data_dir, split):
  """Checks a split's two files, each in one streaming pass; returns its number of examples."""
  (num_images, _), (num_labels, largest_label) = (
      _scan_file(_split_file(data_dir, stem), stem, magic)
      for stem, magic in zip(data_sources.FILE_STEMS[split], (IMAGES_MAGIC, LABELS_MAGIC)))
  if num_images != num_labels:
    raise DataError(f'{data_dir}: {split} split has {num_images} images but '
                    f'{num_labels} labels')
  if largest_label >= features.NUM_CLASSES:
    raise DataError(f'{data_dir}: {split} labels hold class {largest_label}, '
                    f'expected 0..{features.NUM_CLASSES - 1}')
  return num_images


@contextlib.contextmanager
def _open_split(data_dir, split):
  """(images IdxReader, labels IdxReader) of a split."""
  images_stem, labels_stem = data_sources.FILE_STEMS[split]
  with open_idx(_split_file(data_dir, images_stem), IMAGES_MAGIC) as images, \
       open_idx(_split_file(data_dir, labels_stem), LABELS_MAGIC) as labels:
    yield images, labels


def read_split(data_dir, split, count, chunk_size):
  """Yields (index of the first, images uint8 [k, 28, 28], labels uint8 [k]) chunks.

  The first `count` examples of a validated split (validate_split), at most
  chunk_size at a time, the two files read side by side front to back: only
  one chunk is in memory. A file that went bad since it was validated fails
  here too.
  """
  with _open_split(data_dir, split) as (images, labels):
    for start in range(0, count, chunk_size):
      size = min(chunk_size, count - start)
      yield start, images.read_items(size), labels.read_items(size)


def load_split(data_dir, split):
  """Returns (images uint8 [n, 28, 28], labels uint8 [n]) of a split, validated.

  The whole split in memory: for tools and tests. The pipeline streams
  (validate_split, read_split).
  """
  count = validate_split(data_dir, split)
  with _open_split(data_dir, split) as (images, labels):
    return images.read_items(count), labels.read_items(count)


def _uncompressed_sha256(path):
  digest = hashlib.sha256()
  with open_uncompressed(path) as stream:
    while block := stream.read(BLOCK_SIZE):
      digest.update(block)
  return digest.hexdigest()


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
      digest = _uncompressed_sha256(tmp)
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
