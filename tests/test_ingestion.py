"""Ingestion: IDX validation, data-directory resolution, the ExampleGen component."""
import gzip
import hashlib
import http.server
import itertools
import os
import re
import shutil
import threading
import time
import tracemalloc

import numpy as np
import pytest
import tensorflow as tf
from tfx.types import artifact_utils

from components import features
from components.ingestion import data_sources
from components.ingestion import executor as ingestion_executor
from components.ingestion import idx
from tests import conftest
from tests import tfx_helpers


def _path(data_dir, stem):
  return os.path.join(data_dir, stem + '.gz')


def _records(split_dir):
  files = sorted(tf.io.gfile.glob(os.path.join(split_dir, 'data_tfrecord-*')))
  return list(tf.data.TFRecordDataset(files).as_numpy_iterator())


def _read_examples(split_dir):
  return [tf.io.parse_single_example(r, features.ingested_feature_spec())
          for r in _records(split_dir)]


# ---------------------------------------------------------------- pure core

@pytest.mark.parametrize('gzipped', [True, False])
def test_load_split_round_trips_images_and_labels(tmp_path, gzipped):
  data_dir = conftest.write_dataset(tmp_path, 12, 5, gzipped=gzipped)
  images, labels = idx.load_split(data_dir, features.TRAIN_SPLIT)
  expected_images, expected_labels = conftest.make_images(12, 0)
  np.testing.assert_array_equal(images, expected_images)
  np.testing.assert_array_equal(labels, expected_labels)
  assert idx.load_split(data_dir, features.EVAL_SPLIT)[0].shape == (5, 28, 28)


def test_truncated_gzip_is_named(tiny_data_dir):
  path = _path(tiny_data_dir, 'train-images-idx3-ubyte')
  with open(path, 'rb') as f:
    content = f.read()
  with open(path, 'wb') as f:
    f.write(content[:len(content) // 2])
  with pytest.raises(idx.DataError, match=r'train-images-idx3-ubyte\.gz: corrupt or truncated gzip'):
    idx.load_split(tiny_data_dir, features.TRAIN_SPLIT)


def test_wrong_magic_is_named(tiny_data_dir):
  # An image file where a label file belongs.
  shutil.copy(_path(tiny_data_dir, 't10k-images-idx3-ubyte'),
              _path(tiny_data_dir, 't10k-labels-idx1-ubyte'))
  with pytest.raises(idx.DataError, match=r't10k-labels-idx1-ubyte\.gz: wrong magic number 2051, expected 2049'):
    idx.load_split(tiny_data_dir, features.EVAL_SPLIT)


def test_count_mismatch_is_named(tiny_data_dir):
  idx.write_idx(_path(tiny_data_dir, 'train-labels-idx1-ubyte'), np.zeros(47, np.uint8))
  with pytest.raises(idx.DataError, match='train split has 48 images but 47 labels'):
    idx.load_split(tiny_data_dir, features.TRAIN_SPLIT)


def test_wrong_dimensions_are_named(tiny_data_dir):
  idx.write_idx(_path(tiny_data_dir, 'train-images-idx3-ubyte'), np.zeros((48, 32, 32), np.uint8))
  with pytest.raises(idx.DataError, match='images are 32x32, expected 28x28'):
    idx.load_split(tiny_data_dir, features.TRAIN_SPLIT)


def test_header_announcing_more_items_than_present_is_named(tiny_data_dir):
  path = _path(tiny_data_dir, 'train-images-idx3-ubyte')
  content = bytearray(gzip.decompress(open(path, 'rb').read()))
  content[4:8] = (49).to_bytes(4, 'big')  # one image more than the data holds
  with gzip.open(path, 'wb') as f:
    f.write(bytes(content))
  with pytest.raises(idx.DataError, match='header announces 49 items'):
    idx.load_split(tiny_data_dir, features.TRAIN_SPLIT)


def test_missing_file_is_named(tiny_data_dir):
  os.remove(_path(tiny_data_dir, 't10k-images-idx3-ubyte'))
  with pytest.raises(idx.DataError, match=r't10k-images-idx3-ubyte\[\.gz\]: file missing'):
    idx.load_split(tiny_data_dir, features.EVAL_SPLIT)


def test_file_of_official_size_with_wrong_content_fails_checksum(tiny_data_dir):
  # 10,000 labels: 10,008 bytes, the size of the official t10k labels file.
  idx.write_idx(_path(tiny_data_dir, 't10k-labels-idx1-ubyte'), np.zeros(10000, np.uint8))
  with pytest.raises(idx.DataError, match=r't10k-labels-idx1-ubyte\.gz: has the size of the '
                     r'official t10k-labels-idx1-ubyte but its SHA-256 is [0-9a-f]{64}'):
    idx.load_split(tiny_data_dir, features.EVAL_SPLIT)



def test_padded_file_is_named(tiny_data_dir):
  path = _path(tiny_data_dir, 'train-images-idx3-ubyte')
  content = gzip.decompress(open(path, 'rb').read())
  with gzip.open(path, 'wb') as f:
    f.write(content + b'\0')
  with pytest.raises(idx.DataError, match=re.escape(
      'header announces 48 items (37648 bytes) but the file has 37649 bytes: truncated or padded')):
    idx.load_split(tiny_data_dir, features.TRAIN_SPLIT)


def test_file_shorter_than_a_header_is_named(tiny_data_dir):
  with gzip.open(_path(tiny_data_dir, 't10k-labels-idx1-ubyte'), 'wb') as f:
    f.write(b'\0\0\x08')
  with pytest.raises(idx.DataError, match=r'file too short for an IDX header \(3 bytes\)'):
    idx.load_split(tiny_data_dir, features.EVAL_SPLIT)


def test_label_out_of_range_in_a_later_block_is_named(tiny_data_dir, monkeypatch):
  monkeypatch.setattr(idx, 'BLOCK_SIZE', 16)  # the 48 labels in blocks of 16
  labels = np.zeros(48, np.uint8)
  labels[40] = 10
  idx.write_idx(_path(tiny_data_dir, 'train-labels-idx1-ubyte'), labels)
  with pytest.raises(idx.DataError, match=r'train labels hold class 10, expected 0\.\.9'):
    idx.validate_split(tiny_data_dir, features.TRAIN_SPLIT)


def test_file_cut_short_after_validation_fails_the_read(tmp_path):
  data_dir = conftest.write_dataset(tmp_path, 12, 5, gzipped=False)
  count = idx.validate_split(data_dir, features.TRAIN_SPLIT)
  path = os.path.join(data_dir, 'train-images-idx3-ubyte')
  with open(path, 'r+b') as f:
    f.truncate(16 + 10 * 784 + 100)  # the header, 10 images and a part
  chunks = idx.read_split(data_dir, features.TRAIN_SPLIT, count, 4)
  assert [start for start, _, _ in itertools.islice(chunks, 2)] == [0, 4]
  with pytest.raises(idx.DataError, match=re.escape(
      f'{path}: header announces 12 items but the file ends within item 10: truncated')):
    next(chunks)

# ---------------------------------------------------------------- where the data is found

STEMS = ('train-images-idx3-ubyte', 'train-labels-idx1-ubyte',
         't10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte')   # the order of a download


@pytest.fixture(name='file_server')
def fixture_file_server():
  """A local HTTP server: (base URL, routes {name: bytes or handler function}, paths requested).

  A route that is a function writes the response itself, for transfers that
  stop short or that the test watches mid-way.
  """
  routes, requested = {}, []

  class Handler(http.server.BaseHTTPRequestHandler):

    def do_GET(self):  # pylint: disable=invalid-name
      name = self.path.lstrip('/')
      requested.append(name)
      body = routes.get(name)
      if body is None:
        self.send_error(404)
      elif callable(body):
        body(self)
      else:
        self.send_response(200)
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):  # quiet
      pass

  server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), Handler)
  thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
  thread.start()
  try:
    yield f'http://127.0.0.1:{server.server_address[1]}/', routes, requested
  finally:
    server.shutdown()
    server.server_close()
    thread.join()


def _gzipped_dataset(directory, seed=0):
  """{stem: gzipped IDX bytes}, written in directory: 100 random (incompressible)
  train images, so that a transfer takes several blocks, and a few of the rest."""
  rng = np.random.default_rng(seed)
  arrays = {'train-images-idx3-ubyte': rng.integers(0, 256, (100, 28, 28)),
            'train-labels-idx1-ubyte': rng.integers(0, 10, 100),
            't10k-images-idx3-ubyte': rng.integers(0, 256, (5, 28, 28)),
            't10k-labels-idx1-ubyte': rng.integers(0, 10, 5)}
  os.makedirs(directory)
  files = {}
  for stem, array in arrays.items():
    path = os.path.join(directory, stem + '.gz')
    idx.write_idx(path, array)
    with open(path, 'rb') as f:
      files[stem] = f.read()
  return files


def _declare_official(monkeypatch, files):
  """Makes `files` the official set: their uncompressed sizes and SHA-256s."""
  official = {}
  for stem, content in files.items():
    raw = gzip.decompress(content)
    official[stem] = (len(raw), hashlib.sha256(raw).hexdigest())
  monkeypatch.setattr(idx, 'OFFICIAL_SHA256', official)


@pytest.fixture(name='no_local_data')
def fixture_no_local_data(tmp_path, monkeypatch, file_server):
  """No $FASHION_MNIST_DIR, an empty Keras cache (a fresh $HOME), no Debian
  package, downloads from file_server; returns the Keras cache directory."""
  base_url, _, _ = file_server
  monkeypatch.delenv(data_sources.DATA_DIR_ENV, raising=False)
  monkeypatch.setenv('HOME', str(tmp_path / 'home'))
  monkeypatch.setattr(data_sources, 'DEBIAN_DATA_DIR', str(tmp_path / 'debian-package'))
  monkeypatch.setattr(data_sources, 'DOWNLOAD_BASE_URL', base_url)
  return str(tmp_path / 'home' / '.keras' / 'datasets' / 'fashion-mnist')


def test_resolution_order_step_by_step(tmp_path, monkeypatch, file_server, no_local_data):
  _, routes, requested = file_server
  flag_dir = conftest.write_dataset(tmp_path / 'flag', 3, 2)
  env_dir = conftest.write_dataset(tmp_path / 'env', 3, 2)
  keras_cache = conftest.write_dataset(no_local_data, 3, 2)
  debian_dir = conftest.write_dataset(data_sources.DEBIAN_DATA_DIR, 3, 2)
  monkeypatch.setenv(data_sources.DATA_DIR_ENV, env_dir)
  # 1. --data_dir, 2. $FASHION_MNIST_DIR, 3. the Keras cache, 4. Debian's package.
  assert idx.resolve_data_dir(flag_dir) == flag_dir
  assert idx.resolve_data_dir(None) == env_dir
  os.remove(_path(env_dir, 't10k-labels-idx1-ubyte'))  # an incomplete set is passed over
  assert idx.resolve_data_dir(None) == keras_cache
  shutil.rmtree(keras_cache)
  assert idx.resolve_data_dir(None) == debian_dir
  shutil.rmtree(debian_dir)
  assert requested == []
  # 5. A download into the Keras cache.
  files = _gzipped_dataset(tmp_path / 'served')
  _declare_official(monkeypatch, files)
  routes.update({stem + '.gz': content for stem, content in files.items()})
  assert idx.resolve_data_dir(None) == keras_cache
  assert requested == [stem + '.gz' for stem in STEMS]
  # Downloaded once: the next run finds it in the cache.
  assert idx.resolve_data_dir(None) == keras_cache and len(requested) == 4


def test_download_reports_progress_verifies_and_places_each_file_whole(
    tmp_path, monkeypatch, capsys, file_server, no_local_data):
  _, routes, _ = file_server
  files = _gzipped_dataset(tmp_path / 'served')
  _declare_official(monkeypatch, files)
  routes.update({stem + '.gz': content for stem, content in files.items()})
  seen_mid_transfer = {}
  big = files['train-images-idx3-ubyte']

  def watched_transfer(handler):
    """Sends half the file, looks at the cache, sends the rest."""
    handler.send_response(200)
    handler.send_header('Content-Length', str(len(big)))
    handler.end_headers()
    handler.wfile.write(big[:len(big) // 2])
    handler.wfile.flush()
    time.sleep(0.2)  # the client has written what it received
    seen_mid_transfer['names'] = sorted(os.listdir(no_local_data))
    handler.wfile.write(big[len(big) // 2:])

  routes['train-images-idx3-ubyte.gz'] = watched_transfer
  assert idx.resolve_data_dir(None) == no_local_data
  # Mid-transfer the file exists only under a temporary name.
  [staged] = seen_mid_transfer['names']
  assert staged.endswith('.part') and not staged.startswith('train-images')
  assert sorted(os.listdir(no_local_data)) == sorted(stem + '.gz' for stem in STEMS)
  for stem, content in files.items():
    with open(os.path.join(no_local_data, stem + '.gz'), 'rb') as f:
      assert f.read() == content
  progress = capsys.readouterr().err
  for stem in STEMS:
    assert f'downloading {stem}.gz 100.0%' in progress
  percents = [float(p) for p in re.findall(r'downloading train-images-idx3-ubyte\.gz +([\d.]+)%',
                                           progress)]
  assert len(big) > 4 * 8192 and len(set(percents)) >= 4  # several steps, in order
  assert percents == sorted(percents) and percents[-1] == 100.0


def test_download_with_a_bad_checksum_keeps_nothing_of_that_file(
    tmp_path, monkeypatch, file_server, no_local_data):
  base_url, routes, requested = file_server
  files = _gzipped_dataset(tmp_path / 'served')
  _declare_official(monkeypatch, files)
  routes.update({stem + '.gz': content for stem, content in files.items()})
  other = _gzipped_dataset(tmp_path / 'other', seed=1)
  routes['t10k-labels-idx1-ubyte.gz'] = other['t10k-labels-idx1-ubyte']
  with pytest.raises(idx.DataError, match=(
      re.escape(f'download from {base_url}: {base_url}t10k-labels-idx1-ubyte.gz: ') +
      'downloaded content has SHA-256 [0-9a-f]{64}, expected ' +
      idx.OFFICIAL_SHA256['t10k-labels-idx1-ubyte'][1])):
    idx.resolve_data_dir(None)
  # The verified files stay; the bad one and its temporary file are gone.
  assert sorted(os.listdir(no_local_data)) == sorted(stem + '.gz' for stem in STEMS[:3])
  # Fixed at the source, the next call fetches only what is missing.
  routes['t10k-labels-idx1-ubyte.gz'] = files['t10k-labels-idx1-ubyte']
  del requested[:]
  assert idx.resolve_data_dir(None) == no_local_data
  assert requested == ['t10k-labels-idx1-ubyte.gz']


def test_interrupted_download_leaves_no_partial_file(
    tmp_path, monkeypatch, file_server, no_local_data):
  base_url, routes, _ = file_server
  files = _gzipped_dataset(tmp_path / 'served')
  _declare_official(monkeypatch, files)
  big = files['train-images-idx3-ubyte']

  def cut_short(handler):
    handler.send_response(200)
    handler.send_header('Content-Length', str(len(big)))
    handler.end_headers()
    handler.wfile.write(big[:len(big) // 2])   # then the connection closes

  routes['train-images-idx3-ubyte.gz'] = cut_short
  with pytest.raises(idx.DataError, match=re.escape(f'download from {base_url}: ') +
                     '.*retrieval incomplete'):
    idx.resolve_data_dir(None)
  assert os.listdir(no_local_data) == []


def test_explicit_data_dir_lacking_files_is_an_error(tmp_path):
  with pytest.raises(idx.DataError, match='missing train-images-idx3-ubyte'):
    idx.resolve_data_dir(str(tmp_path))


def test_nothing_found_lists_every_place_tried(no_local_data):
  # The file server has no files: every download is a 404.
  with pytest.raises(idx.DataError) as error:
    idx.resolve_data_dir(None)
  message = str(error.value)
  for place in (f'${data_sources.DATA_DIR_ENV}: not set', f'Keras cache: {no_local_data}',
                f'{data_sources.DEBIAN_DATA_DIR} (no complete set',
                f'download from {data_sources.DOWNLOAD_BASE_URL}: HTTP Error 404',
                'apt-get install dataset-fashion-mnist'):
    assert place in message
  # The failed download leaves no partial file behind.
  assert os.listdir(no_local_data) == []


# ---------------------------------------------------------------- component

def _files_under(directory):
  """Every file below directory, at any depth, relative to it."""
  return sorted(os.path.relpath(os.path.join(parent, name), directory)
                for parent, _, names in os.walk(directory) for name in names)


# SHA-256 of each split's serialized records in id order, as the ingestion
# that loaded whole splits wrote them (commit 94f61d6), for tiny_data_dir with
# train_examples=20: the streaming ingestion writes the same bytes.
RECORDS_SHA256 = {
    'train': '9d9bee67a13370bb07e26061488f27ee062856d15f509143841ed9389df97c2d',
    'eval': 'd55058d7b65c154836b0f1710f948135127678f7573d69f30625152f17df20a1',
}


def test_example_gen_writes_splits_with_ids_and_limits(tiny_data_dir, tmp_path, monkeypatch):
  monkeypatch.setattr(ingestion_executor, 'CHUNK_SIZE', 8)  # train: chunks of 8, 8, 4
  gen = tfx_helpers.example_gen(tiny_data_dir, train_examples=20)
  config = tfx_helpers.run_components([gen], str(tmp_path))
  [examples] = tfx_helpers.live_artifacts(config, 'Examples')
  assert artifact_utils.decode_split_names(
      examples.properties['split_names'].string_value) == ['train', 'eval']
  data_files = [f for f in _files_under(str(tmp_path / 'artifacts'))
                if re.search(r'/Split-(train|eval)/data_tfrecord-\d{5}-of-\d{5}$', f)]
  assert {f.split('/Split-')[1].split('/')[0] for f in data_files} == {'train', 'eval'}
  train = _read_examples(os.path.join(examples.uri, 'Split-train'))
  evals = _read_examples(os.path.join(examples.uri, 'Split-eval'))
  assert len(train) == 20 and len(evals) == 24
  images, labels = conftest.make_images(48, 0)
  ids = [e[features.ID_KEY].numpy().decode() for e in train]
  assert sorted(ids) == sorted(f'train-{i}' for i in range(20))  # each once, the first 20
  for example in train:
    i = int(example[features.ID_KEY].numpy().decode().split('-')[1])
    np.testing.assert_array_equal(example[features.IMAGE_KEY].numpy(), images[i].reshape(-1))
    assert example[features.LABEL_KEY].numpy() == labels[i]
  # Read in order, written in order: the file holds the ids in IDX order.
  assert ids == [f'train-{i}' for i in range(20)]
  for split, digest in RECORDS_SHA256.items():
    records = _records(os.path.join(examples.uri, f'Split-{split}'))
    assert hashlib.sha256(b''.join(records)).hexdigest() == digest


@pytest.fixture(scope='module', name='large_data_dirs')
def fixture_large_data_dirs(tmp_path_factory):
  """{gzipped: data directory}: 10,000 train images (7.8 MB of pixels), 10 eval."""
  root = tmp_path_factory.mktemp('large')
  return {gzipped: conftest.write_dataset(root / str(gzipped), 10000, 10, gzipped=gzipped)
          for gzipped in (True, False)}


@pytest.mark.parametrize('gzipped', [True, False])
def test_ingestion_holds_a_chunk_not_the_split(large_data_dirs, monkeypatch, gzipped):
  """Validation and writing hold a block or a chunk at a time, never the split.

  tracemalloc counts every Python and numpy allocation made while it runs.
  """
  data_dir = large_data_dirs[gzipped]
  # Measured peaks: about 4 times the block, 5.5 KB per image of the chunk.
  monkeypatch.setattr(idx, 'BLOCK_SIZE', 1 << 17)
  monkeypatch.setattr(ingestion_executor, 'CHUNK_SIZE', 125)
  split_bytes = 10000 * 28 * 28
  ids = []
  tracemalloc.start()
  try:
    sizes = ingestion_executor.part_sizes({0: data_dir}, [(0, 'train'), (0, 'eval')],
                                          {'train': 0, 'eval': 0})
    _, validation_peak = tracemalloc.get_traced_memory()
    tracemalloc.reset_peak()
    # The executor's Beam step, called as Beam would, on the train split.
    for framed in ingestion_executor._SpanSplitToFramedExamples(  # pylint: disable=protected-access
        {0: data_dir}, sizes).process((0, 'train')):
      ids.append(re.findall(rb'train-\d+', framed))
    _, writing_peak = tracemalloc.get_traced_memory()
  finally:
    tracemalloc.stop()
  assert sizes == {(0, 'train'): 10000, (0, 'eval'): 10}
  assert [len(chunk) for chunk in ids] == [125] * 80
  assert ids[-1][-1] == b'train-9999'
  assert validation_peak < split_bytes / 4, validation_peak
  assert writing_peak < split_bytes / 4, writing_peak


def _truncate(path, keep):
  with open(path, 'rb') as f:
    content = f.read()
  with open(path, 'wb') as f:
    f.write(content[:keep])


@pytest.mark.parametrize('corruption, message', [
    ('truncate', 'corrupt or truncated gzip'),
    ('missing', r'train-images-idx3-ubyte\[.gz\]: file missing'),
    # Checked up front, the file goes bad before Beam reads it: the failure
    # comes from inside the Beam pipeline, after other chunks were written.
    ('truncate after validation', 'corrupt or truncated gzip'),
])
def test_example_gen_failure_publishes_nothing(
    tiny_data_dir, tmp_path, monkeypatch, corruption, message):
  path = _path(tiny_data_dir, 'train-images-idx3-ubyte')
  if corruption == 'truncate':
    _truncate(path, 100)
  elif corruption == 'missing':
    os.remove(path)
  else:
    validate = ingestion_executor.part_sizes

    def validate_then_corrupt(*args):
      sizes = validate(*args)
      _truncate(_path(tiny_data_dir, 't10k-images-idx3-ubyte'), 100)
      return sizes

    monkeypatch.setattr(ingestion_executor, 'part_sizes', validate_then_corrupt)
    monkeypatch.setattr(ingestion_executor, 'CHUNK_SIZE', 8)  # train: 6 chunks
  gen = tfx_helpers.example_gen(tiny_data_dir)
  root = str(tmp_path / 'run')
  with pytest.raises(idx.DataError, match=message):
    tfx_helpers.run_components([gen], root)
  assert tfx_helpers.live_artifacts(tfx_helpers.metadata_config(root), 'Examples') == []
  assert _files_under(root) == ['metadata.sqlite']


@pytest.mark.skipif(not conftest.real_data_available(),
                    reason='real Fashion-MNIST not installed (apt-get install dataset-fashion-mnist)')
def test_real_data_smoke(tmp_path):
  """Ingests a subset of the real files and checks them against the IDX arrays."""
  gen = tfx_helpers.example_gen(conftest.REAL_DATA_DIR, train_examples=300,
                               eval_examples=100)
  config = tfx_helpers.run_components([gen], str(tmp_path))
  [examples] = tfx_helpers.live_artifacts(config, 'Examples')
  evals = _read_examples(os.path.join(examples.uri, 'Split-eval'))
  assert len(evals) == 100
  images, labels = idx.load_split(conftest.REAL_DATA_DIR, features.EVAL_SPLIT)
  assert images.shape == (10000, 28, 28)
  for e in evals[:5]:
    i = int(e[features.ID_KEY].numpy().decode().split('-')[1])
    np.testing.assert_array_equal(e[features.IMAGE_KEY].numpy(), images[i].reshape(-1))
    assert e[features.LABEL_KEY].numpy() == labels[i]
