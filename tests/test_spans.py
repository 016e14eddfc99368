"""The data layout (span directories), the input fingerprint and the warm-start choice, unit by unit.

Through local_runner.py and the compiled package they are exercised by
tests/test_continuous_training.py.
"""
import json
import os
import shutil

import numpy as np
import pytest
import tensorflow as tf

from components import keys
from components import serving_dir as serving_dir_lib
from components.data_spans import executor as data_spans_executor
from components.ingestion import idx
from components.ingestion import spans
from components.model_code import denoise_trainer
from components.model_code import hparams
from components.model_code import model as model_lib
from tests import conftest


def _spans_dir(root, numbers, n_train=6, n_eval=4, gzipped=True):
  for number in numbers:
    conftest.write_dataset(os.path.join(root, f'span-{number}'), n_train, n_eval,
                           gzipped=gzipped, seed=number)
  return str(root)


def test_a_directory_of_the_four_files_is_span_0(tiny_data_dir):
  assert spans.find_spans(tiny_data_dir) == {0: tiny_data_dir}
  assert spans.spans_to_use(tiny_data_dir, 1) == {0: tiny_data_dir}


def test_the_latest_spans_are_taken_gaps_allowed(tmp_path):
  data_dir = _spans_dir(tmp_path, (1, 3, 10))
  assert sorted(spans.find_spans(data_dir)) == [1, 3, 10]   # 10 after 3: by number
  assert spans.spans_to_use(data_dir, 1) == {10: os.path.join(data_dir, 'span-10')}
  assert list(spans.spans_to_use(data_dir, 2)) == [3, 10]
  # The same through TensorFlow's file systems, as the pipeline reads it.
  assert idx.spans_to_use(data_dir, 3) == spans.spans_to_use(data_dir, 3)


def _loose_file(data_dir):
  shutil.copy(os.path.join(data_dir, 'span-1', 'train-labels-idx1-ubyte.gz'), data_dir)


def _span_x(data_dir):
  os.makedirs(os.path.join(data_dir, 'span-x'))


def _leading_zero(data_dir):
  os.makedirs(os.path.join(data_dir, 'span-01'))


def _span_file(data_dir):
  with open(os.path.join(data_dir, 'span-3'), 'w') as f:
    f.write('not a directory')


def _missing_file(data_dir):
  os.remove(os.path.join(data_dir, 'span-2', 't10k-labels-idx1-ubyte.gz'))


@pytest.mark.parametrize('spoil, num_spans, message', [
    (_loose_file, 1, r'/data: IDX files beside span directories \(train-labels-idx1-ubyte.gz\): '
                     r'move them into a span-N/ directory'),
    (_span_x, 1, r'/data/span-x: not a span directory: the name must be span-N with N a '
                 r'positive integer'),
    (_leading_zero, 1, r'/data/span-01: not a span directory'),
    (_span_file, 1, r'/data/span-3: a span must be a directory of the four IDX files'),
    (_missing_file, 1, r'/data/span-2: missing t10k-labels-idx1-ubyte \(.gz or uncompressed\)'),
    (None, 3, r'--spans=3, but \S+/data holds 2 span\(s\): spans 1, 2'),
    (None, 0, r'spans must be an integer >= 1, got 0'),
])
def test_bad_layouts_are_refused_with_one_line_naming_the_problem(
    tmp_path, spoil, num_spans, message):
  data_dir = _spans_dir(tmp_path / 'data', (1, 2))
  if spoil:
    spoil(data_dir)
  for check in (spans.spans_to_use, idx.spans_to_use):
    with pytest.raises(ValueError, match=message) as error:
      check(data_dir, num_spans)
    assert '\n' not in str(error.value)


def test_a_missing_file_in_a_span_not_taken_is_not_an_error(tmp_path):
  data_dir = _spans_dir(tmp_path, (1, 2))
  os.remove(os.path.join(data_dir, 'span-1', 'train-images-idx3-ubyte.gz'))
  assert list(spans.spans_to_use(data_dir, 1)) == [2]


def test_the_fingerprint_is_of_the_content_not_of_times(tmp_path):
  data_dir = _spans_dir(tmp_path / 'data', (1, 2), gzipped=False)
  span_dirs = spans.spans_to_use(data_dir, 2)
  before = idx.input_fingerprint(span_dirs)
  assert before.startswith('sha256:')
  # New modification times, same bytes: unchanged.
  copy = shutil.copytree(data_dir, tmp_path / 'copy', copy_function=shutil.copy)
  assert idx.input_fingerprint(spans.spans_to_use(str(copy), 2)) == before
  # Rewritten in place with other images of the same size and the old time
  # (what TFX's names, sizes and seconds would not see): changed.
  path = os.path.join(data_dir, 'span-2', 'train-images-idx3-ubyte')
  times = os.stat(path)
  images, _ = conftest.make_images(6, seed=99)
  idx.write_idx(path, images, gzipped=False)
  assert os.stat(path).st_size == times.st_size
  os.utime(path, ns=(times.st_atime_ns, times.st_mtime_ns))
  assert idx.input_fingerprint(span_dirs) != before
  # Which spans are taken is part of it.
  assert idx.input_fingerprint(spans.spans_to_use(data_dir, 1)) != idx.input_fingerprint(
      span_dirs)


def _deploy(serving_dir, version, **record):
  os.makedirs(os.path.join(serving_dir, version))
  with open(os.path.join(serving_dir, version, serving_dir_lib.PUSH_METADATA), 'w') as f:
    json.dump(record, f)


def test_warm_start_takes_the_deployed_model_only_for_new_data_of_its_architecture(tmp_path):
  serving_dir = str(tmp_path / 'serving')
  choose = data_spans_executor.warm_start_version
  assert choose(serving_dir, 'sha256:new', 'tutorial') == ''   # nothing deployed
  _deploy(serving_dir, '100', model='tutorial', input_fingerprint='sha256:a',
          warm_started_from=None)
  assert choose(serving_dir, 'sha256:new', 'tutorial') == '100'   # new data
  assert choose(serving_dir, 'sha256:new', 'unet') == ''          # another architecture
  # The data it learnt: trained as it was, from initial weights.
  assert choose(serving_dir, 'sha256:a', 'tutorial') == ''
  _deploy(serving_dir, '200', model='tutorial', input_fingerprint='sha256:b',
          warm_started_from='100')
  assert choose(serving_dir, 'sha256:b', 'tutorial') == '100'   # from where it started
  assert choose(serving_dir, 'sha256:c', 'tutorial') == '200'
  shutil.rmtree(os.path.join(serving_dir, '100'))   # that start is gone
  assert choose(serving_dir, 'sha256:b', 'tutorial') == ''
  # A version pushed before push metadata recorded the architecture.
  _deploy(serving_dir, '300', model_uri='/somewhere')
  assert choose(serving_dir, 'sha256:c', 'tutorial') == ''


def test_data_spans_resolves_what_a_run_takes(tmp_path):
  data_dir = _spans_dir(tmp_path / 'data', (1, 2))
  serving_dir = str(tmp_path / 'serving')
  _deploy(serving_dir, '100', model='tutorial', input_fingerprint='sha256:old')
  resolved = data_spans_executor.resolve(data_dir, 2, serving_dir, 1, 'tutorial')
  assert resolved == {
      keys.DATA_DIR_KEY: data_dir, keys.SPAN_NUMBERS_PROPERTY: [1, 2],
      keys.INPUT_FINGERPRINT_PROPERTY: idx.input_fingerprint(spans.spans_to_use(data_dir, 2)),
      keys.WARM_START_VERSION_KEY: '100'}
  assert data_spans_executor.resolve(data_dir, 2, serving_dir, 0, 'tutorial')[
      keys.WARM_START_VERSION_KEY] == ''   # --nowarm_start


def _noisy_pairs(n, seed):
  images, _ = conftest.make_images(n, seed)
  clean = images.reshape(n, 28, 28, 1).astype(np.float32) / 255
  noisy = np.clip(clean + 0.2 * np.random.default_rng(seed).standard_normal(clean.shape), 0, 1)
  return tf.data.Dataset.from_tensor_slices((noisy.astype(np.float32), clean)).batch(16)


@pytest.mark.parametrize('model_name', hparams.MODEL_NAMES)
def test_warm_start_begins_at_the_exported_weights_with_this_runs_optimizer(tmp_path, model_name):
  """Trained at 3e-3, exported (its Adam state included), then trained on at 1e-9: unchanged.

  The export's checkpoint holds its optimizer, learning rate included;
  restored into the model that trains, it would train on at 3e-3. Each
  architecture is rebuilt by name, and every variable of its export found.
  """
  ds = _noisy_pairs(32, 1)
  deployed, _ = denoise_trainer.train(model_name, ds, ds, epochs=2, learning_rate=3e-3, seed=1)
  export_dir = str(tmp_path / 'deployed')
  denoise_trainer.export_serving_model(deployed, export_dir)
  warm, _ = denoise_trainer.train(model_name, _noisy_pairs(32, 2), ds, epochs=2,
                                  learning_rate=1e-9, seed=2, initial_weights_dir=export_dir)
  assert float(warm.optimizer.learning_rate) == pytest.approx(1e-9)
  for trained, start in zip(warm.get_weights(), deployed.get_weights()):
    np.testing.assert_allclose(trained, start, atol=1e-6)
  cold = model_lib.build_model(model_name)
  assert not np.allclose(cold.get_weights()[0], deployed.get_weights()[0])


def test_warm_start_from_another_architecture_fails(tmp_path):
  ds = _noisy_pairs(16, 1)
  unet, _ = denoise_trainer.train('unet', ds, ds, epochs=1, learning_rate=1e-3)
  export_dir = str(tmp_path / 'unet')
  denoise_trainer.export_serving_model(unet, export_dir)
  with pytest.raises(ValueError, match='incompatible tensor with shape'):
    denoise_trainer.train('tutorial', ds, ds, epochs=1, learning_rate=1e-3,
                          initial_weights_dir=export_dir)


def test_a_base_model_without_a_saved_model_means_a_cold_start(tmp_path):
  assert denoise_trainer.warm_start_dir(None) is None
  assert denoise_trainer.warm_start_dir(str(tmp_path)) is None   # WarmStartModel's empty Model
  (tmp_path / 'saved_model.pb').write_bytes(b'')
  assert denoise_trainer.warm_start_dir(str(tmp_path)) == str(tmp_path)
