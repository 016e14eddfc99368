"""Ingestion: IDX validation, data-directory resolution, the ExampleGen component."""
import gzip
import os
import shutil

import numpy as np
import pytest
import tensorflow as tf
from tfx.types import artifact_utils

from components import features
from components.ingestion import data_sources
from components.ingestion import idx
from components.ingestion.component import FashionMnistExampleGen
from tests import conftest
from tests import tfx_helpers


def _path(data_dir, stem):
  return os.path.join(data_dir, stem + '.gz')


def _read_examples(split_dir):
  files = tf.io.gfile.glob(os.path.join(split_dir, '*.gz'))
  records = list(tf.data.TFRecordDataset(files, compression_type='GZIP').as_numpy_iterator())
  return [tf.io.parse_single_example(r, features.ingested_feature_spec()) for r in records]


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


def test_file_of_official_size_with_wrong_content_fails_checksum(tmp_path):
  stem = 't10k-labels-idx1-ubyte'
  size = idx.OFFICIAL_SHA256[stem][0]
  labels = np.zeros(size - 8, np.uint8)  # official size, wrong content
  idx.write_idx(str(tmp_path / (stem + '.gz')), labels)
  content = idx.read_bytes(str(tmp_path / (stem + '.gz')))
  with pytest.raises(idx.DataError, match='SHA-256'):
    idx._check_official_checksum('f', stem, content)  # pylint: disable=protected-access


def test_resolution_order(tmp_path, monkeypatch):
  env_dir = conftest.write_dataset(tmp_path / 'env', 3, 2)
  flag_dir = conftest.write_dataset(tmp_path / 'flag', 3, 2)
  monkeypatch.setenv(data_sources.DATA_DIR_ENV, env_dir)
  assert idx.resolve_data_dir(flag_dir) == os.path.abspath(flag_dir)
  assert idx.resolve_data_dir(None) == os.path.abspath(env_dir)


def test_explicit_data_dir_lacking_files_is_an_error(tmp_path):
  with pytest.raises(idx.DataError, match='missing train-images-idx3-ubyte'):
    idx.resolve_data_dir(str(tmp_path))


def test_nothing_found_lists_every_place_tried(tmp_path, monkeypatch):
  monkeypatch.delenv(data_sources.DATA_DIR_ENV, raising=False)
  monkeypatch.setenv('HOME', str(tmp_path))  # an empty Keras cache
  monkeypatch.setattr(data_sources, 'DEBIAN_DATA_DIR', str(tmp_path / 'no-debian'))
  monkeypatch.setattr(data_sources, 'DOWNLOAD_BASE_URL', 'http://127.0.0.1:9/')  # refused at once
  with pytest.raises(idx.DataError) as error:
    idx.resolve_data_dir(None)
  message = str(error.value)
  for place in (f'${data_sources.DATA_DIR_ENV}: not set', 'Keras cache', 'no-debian',
                'download from http://127.0.0.1:9/', 'apt-get install dataset-fashion-mnist'):
    assert place in message
  # The failed download leaves no partial file behind.
  cache = tmp_path / '.keras' / 'datasets' / 'fashion-mnist'
  assert not cache.exists() or not list(cache.iterdir())


# ---------------------------------------------------------------- component

def test_example_gen_writes_splits_with_ids_and_limits(tiny_data_dir, tmp_path):
  gen = FashionMnistExampleGen(data_dir=tiny_data_dir, train_examples=20)
  config = tfx_helpers.run_components([gen], str(tmp_path))
  [examples] = tfx_helpers.live_artifacts(config, 'Examples')
  assert artifact_utils.decode_split_names(
      examples.properties['split_names'].string_value) == list(features.SPLITS)
  train = _read_examples(os.path.join(examples.uri, 'Split-train'))
  evals = _read_examples(os.path.join(examples.uri, 'Split-eval'))
  assert len(train) == 20 and len(evals) == 24
  images, labels = conftest.make_images(48, 0)
  by_id = {e[features.ID_KEY].numpy().decode(): e for e in train}
  assert sorted(by_id) == sorted(f'train-{i}' for i in range(20))
  np.testing.assert_array_equal(by_id['train-7'][features.IMAGE_KEY].numpy(), images[7].reshape(-1))
  assert by_id['train-7'][features.LABEL_KEY].numpy() == labels[7]


@pytest.mark.parametrize('corruption, message', [
    ('truncate', 'corrupt or truncated gzip'),
    ('missing', 'missing train-images-idx3-ubyte'),
])
def test_example_gen_failure_publishes_nothing(tiny_data_dir, tmp_path, corruption, message):
  path = _path(tiny_data_dir, 'train-images-idx3-ubyte')
  if corruption == 'truncate':
    content = open(path, 'rb').read()
    open(path, 'wb').write(content[:100])
  else:
    os.remove(path)
  gen = FashionMnistExampleGen(data_dir=tiny_data_dir)
  with pytest.raises(idx.DataError, match=message):
    tfx_helpers.run_components([gen], str(tmp_path))
  config = tfx_helpers.metadata_config(str(tmp_path))
  assert tfx_helpers.live_artifacts(config, 'Examples') == []
  written = tf.io.gfile.glob(str(tmp_path / 'artifacts' / '**' / '*.gz'))
  assert written == []


@pytest.mark.skipif(not conftest.real_data_available(),
                    reason='real Fashion-MNIST not installed (apt-get install dataset-fashion-mnist)')
def test_real_data_smoke(tmp_path):
  """Ingests a subset of the real files and checks them against the IDX arrays."""
  gen = FashionMnistExampleGen(data_dir=conftest.REAL_DATA_DIR, train_examples=300,
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
