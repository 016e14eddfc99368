"""NoiseAugmenter: the noise's statistics, clipping, determinism and parameter checks."""
import gzip
import hashlib
import os

import apache_beam as beam
import numpy as np
import pytest
import tensorflow as tf
from tfx.dsl.components.base import base_beam_executor
from tfx.types import artifact_utils
from tfx.types import standard_artifacts

from components import features
from components import tfrecord_io
from components.data_spans import executor as data_spans_executor
from components.ingestion import executor as ingestion_executor
from components.noise import executor as noise_executor
from components.noise import noise
from components.noise.component import NoiseAugmenter
from tests import conftest
from tests import tfx_helpers


def _ids(n, split='train'):
  return [f'{split}-{i}'.encode() for i in range(n)]


# ---------------------------------------------------------------- pure core

def test_noise_is_standard_normal_and_scaled_where_not_clipped():
  noise_factor = 0.2
  unit = noise.draw_noise(7, _ids(500))
  assert abs(unit.mean()) < 0.01 and abs(unit.std() - 1.0) < 0.01
  clean = np.full_like(unit, 0.5)  # mid-grey: clipping needs |n| > 2.5
  noisy = noise.add_noise(clean, unit, noise_factor)
  added = (noisy - clean)[np.abs(unit) < 2.0]
  assert abs(added.mean()) < 0.002
  assert abs(added.std() - noise_factor * unit[np.abs(unit) < 2.0].std()) < 1e-4


def test_noisy_images_are_clipped_to_unit_range():
  unit = noise.draw_noise(1, _ids(200))
  for level in (0.0, 1.0):
    noisy = noise.add_noise(np.full_like(unit, level), unit, 0.5)
    assert noisy.min() == 0.0 and noisy.max() == 1.0
    # Half the noise pushes out of range and is clipped to the bound itself.
    assert np.mean(noisy == level) == pytest.approx(0.5, abs=0.05)


def test_zero_noise_factor_is_identity():
  clean = noise.to_unit_float(np.arange(784, dtype=np.int64).reshape(1, -1) % 256)
  np.testing.assert_array_equal(
      noise.add_noise(clean, noise.draw_noise(3, _ids(1)), 0.0), clean)


def test_noise_depends_only_on_seed_and_id():
  ids = _ids(10)
  forward = noise.draw_noise(5, ids)
  backward = noise.draw_noise(5, ids[::-1])[::-1]
  np.testing.assert_array_equal(forward, backward)              # order-free
  np.testing.assert_array_equal(forward[3:4], noise.draw_noise(5, ids[3:4]))  # batch-free
  assert not np.allclose(forward, noise.draw_noise(6, ids))     # seed matters
  assert not np.allclose(forward[0], forward[1])                # id matters


def reference_noise(seed, example_id):
  """The README's promise, computed here: the first 784 standard normals of a
  Philox generator keyed by the first 128 bits of SHA-256(seed as 8 bytes,
  little-endian, then the example id)."""
  digest = hashlib.sha256(seed.to_bytes(8, 'little') + example_id).digest()
  key = [int.from_bytes(digest[:8], 'little'), int.from_bytes(digest[8:16], 'little')]
  generator = np.random.Generator(np.random.Philox(key=np.array(key, np.uint64)))
  return generator.standard_normal(784, np.float32)


def test_each_example_gets_the_first_draws_of_its_own_philox_stream():
  ids = _ids(5) + [b'eval-9999']
  for row, example_id in zip(noise.draw_noise(9, ids), ids):
    np.testing.assert_array_equal(row, reference_noise(9, example_id))


def test_noise_of_an_example_is_pinned():
  """Changing how noise is drawn changes every dataset made before: it must be deliberate."""
  np.testing.assert_array_equal(noise.draw_noise(42, [b'train-0'])[0, :4], np.array(
      [-1.1409003734588623, -0.6181772947311401, -0.39772331714630127, -2.39984393119812],
      np.float32))


@pytest.mark.parametrize('noise_factor, seed, message', [
    (-0.1, 0, 'noise_factor must be finite and >= 0'),
    (float('nan'), 0, 'noise_factor must be finite and >= 0'),
    (float('inf'), 0, 'noise_factor must be finite and >= 0'),
    ('0.2', 0, 'noise_factor must be a number'),
    (0.2, -1, r'seed must be an integer in \[0, 4294967295\], got -1'),
    (0.2, 1.5, r'seed must be an integer in \[0, 4294967295\]'),
    # The Trainer's seed too, for numpy's 32-bit seeds.
    (0.2, 2**32, r'seed must be an integer in \[0, 4294967295\], got 4294967296'),
])
def test_bad_parameters_fail_at_construction(noise_factor, seed, message):
  with pytest.raises(ValueError, match=message):
    NoiseAugmenter(examples=tfx_helpers.example_gen('').outputs['examples'],
                   noise_factor=noise_factor, seed=seed)


# ---------------------------------------------------------------- component

def _expected_example(images, labels, example_id, seed, noise_factor):
  """What the README promises for an example, from the IDX arrays it came from."""
  i = int(example_id.split(b'-')[1])
  clean = images[i].reshape(-1).astype(np.float32) / np.float32(255)
  noisy = np.clip(clean + np.float32(noise_factor) * reference_noise(seed, example_id), 0, 1)
  return clean, noisy, labels[i]


def _read_augmented(uri):
  """{split: [parsed example, ...]} in file order: duplicates stay visible."""
  result = {}
  for split in ('train', 'eval'):
    files = sorted(tf.io.gfile.glob(os.path.join(uri, f'Split-{split}', '*')))
    result[split] = [{k: v.numpy() for k, v in tf.io.parse_single_example(
        record, features.augmented_feature_spec()).items()}
                     for record in tfrecord_io.tfrecord_dataset(files)]
  return result


def test_component_adds_the_tutorial_noise_to_each_image_under_its_own_id(tiny_data_dir, tmp_path):
  gen = tfx_helpers.example_gen(tiny_data_dir)
  augmenter = NoiseAugmenter(examples=gen.outputs['examples'], noise_factor=0.3, seed=5)
  config = tfx_helpers.run_components([gen, augmenter], str(tmp_path))
  # The augmenter's output is the newest Examples artifact.
  augmented = max(tfx_helpers.live_artifacts(config, 'Examples'), key=lambda a: a.id)
  assert artifact_utils.decode_split_names(
      augmented.properties['split_names'].string_value) == ['train', 'eval']
  # The output carries its own facts, for the report and later readers.
  assert augmented.custom_properties['noise_factor'].double_value == 0.3
  assert augmented.custom_properties['seed'].int_value == 5
  examples = _read_augmented(augmented.uri)
  for split, n, data_seed in (('train', 48, 0), ('eval', 24, 1)):  # conftest.tiny_data_dir
    images, labels = conftest.make_images(n, data_seed)
    ids = [e[features.ID_KEY] for e in examples[split]]
    assert sorted(ids) == sorted(f'{split}-{i}'.encode() for i in range(n))  # each once
    for example in examples[split]:
      clean, noisy, label = _expected_example(images, labels, example[features.ID_KEY], 5, 0.3)
      np.testing.assert_array_equal(example[features.CLEAN_KEY], clean)
      np.testing.assert_allclose(example[features.NOISY_KEY], noisy, atol=1e-7)
      assert example[features.LABEL_KEY] == label


def _write_ingested(split_dir, split, images, labels, file_sizes):
  """Ingested examples of a split in several gzipped TFRecord files, ids in order."""
  os.makedirs(split_dir)
  start = 0
  for number, size in enumerate(file_sizes):
    records = list(ingestion_executor.to_examples(
        images[start:start + size].reshape(size, -1), labels[start:start + size],
        [f'{split}-{i}' for i in range(start, start + size)]))
    path = os.path.join(split_dir, f'data_tfrecord-{number:05d}-of-{len(file_sizes):05d}.gz')
    with tf.io.gfile.GFile(path, 'wb') as f:
      f.write(gzip.compress(tfrecord_io.frame_tfrecords(records)))
    start += size


def _augment_with(beam_args, ingested, uri):
  augmented = standard_artifacts.Examples()
  augmented.uri = uri
  context = base_beam_executor.BaseBeamExecutor.Context(
      # Beam options given this way skip TFX's 42 MB package of itself.
      make_beam_pipeline_fn=lambda: beam.Pipeline(argv=beam_args))
  noise_executor.Executor(context).Do(
      {'examples': [ingested]}, {'augmented_examples': [augmented]},
      {'noise_factor': 0.2, 'seed': 11})
  return _read_augmented(uri)


def test_two_worker_processes_give_the_in_process_noise(tmp_path):
  """Three train files, the first of two batches: work two workers can split."""
  sizes = {'train': [1100, 500, 200], 'eval': [150, 150]}
  ingested = standard_artifacts.Examples()
  ingested.uri = str(tmp_path / 'ingested')
  ingested.split_names = artifact_utils.encode_split_names(['train', 'eval'])
  arrays = {}
  for data_seed, (split, file_sizes) in enumerate(sizes.items()):
    arrays[split] = conftest.make_images(sum(file_sizes), data_seed)
    _write_ingested(os.path.join(ingested.uri, f'Split-{split}'), split, *arrays[split],
                    file_sizes)
  assert noise_executor.BATCH_SIZE < 1100
  in_process = _augment_with([], ingested, str(tmp_path / 'one'))
  two_workers = _augment_with(
      ['--direct_running_mode=multi_processing', '--direct_num_workers=2'], ingested,
      str(tmp_path / 'two'))
  for split, file_sizes in sizes.items():
    for result in (in_process, two_workers):
      ids = sorted(e[features.ID_KEY] for e in result[split])
      assert ids == sorted(f'{split}-{i}'.encode() for i in range(sum(file_sizes)))
    by_id = {e[features.ID_KEY]: e for e in two_workers[split]}
    for example in in_process[split]:
      other = by_id[example[features.ID_KEY]]
      for key in (features.CLEAN_KEY, features.NOISY_KEY, features.LABEL_KEY):
        np.testing.assert_array_equal(example[key], other[key])
      clean, noisy, _ = _expected_example(*arrays[split], example[features.ID_KEY], 11, 0.2)
      np.testing.assert_array_equal(example[features.CLEAN_KEY], clean)
      np.testing.assert_allclose(example[features.NOISY_KEY], noisy, atol=1e-7)


def test_corrupt_input_file_fails_naming_it_and_publishes_nothing(tiny_data_dir, tmp_path):
  ingested = standard_artifacts.Examples()
  ingested.uri = str(tmp_path / 'ingested')
  ingestion_executor.Executor().Do({}, {'examples': [ingested]}, {
      'input_spans': data_spans_executor.input_spans_value(tiny_data_dir, [0], 'sha256:x')})
  [victim] = tf.io.gfile.glob(os.path.join(ingested.uri, f'Split-{features.EVAL_SPLIT}', '*'))
  with tf.io.gfile.GFile(victim, 'rb') as f:
    truncated = f.read()[:-200]
  with tf.io.gfile.GFile(victim, 'wb') as f:
    f.write(truncated)
  augmented = standard_artifacts.Examples()
  augmented.uri = str(tmp_path / 'augmented')
  with pytest.raises(ValueError, match=f'{victim}: corrupt or truncated TFRecord file'):
    noise_executor.Executor().Do({'examples': [ingested]}, {'augmented_examples': [augmented]},
                                 {'noise_factor': 0.2, 'seed': 1})
  # Beam leaves only its temporary directory (TFX removes the artifact's
  # directory on failure); no output file exists.
  written = [os.path.join(parent, name) for parent, _, names in os.walk(augmented.uri)
             for name in names]
  assert not [f for f in written if '/beam-temp-' not in f]


def test_the_largest_seed_is_accepted():
  noise.validate_noise_params(0.2, noise.MAX_SEED)
  assert noise.MAX_SEED == 2**32 - 1


def test_an_earlier_attempts_leftovers_are_neither_read_nor_kept(tiny_data_dir, tmp_path):
  """A retried execution: its input holds a temporary directory a Beam write did not
  delete; its output, what a killed attempt left (a shard of another count, a
  temporary directory)."""
  ingested = standard_artifacts.Examples()
  ingested.uri = str(tmp_path / 'ingested')
  ingestion_executor.Executor().Do({}, {'examples': [ingested]}, {
      'input_spans': data_spans_executor.input_spans_value(tiny_data_dir, [0], 'sha256:x')})
  eval_dir = os.path.join(ingested.uri, f'Split-{features.EVAL_SPLIT}')
  os.makedirs(os.path.join(eval_dir, 'beam-temp-data_tfrecord-0a1b'))
  with open(os.path.join(eval_dir, 'beam-temp-data_tfrecord-0a1b', 'x.data_tfrecord'), 'wb') as f:
    f.write(b'half a record')
  augmented = standard_artifacts.Examples()
  augmented.uri = str(tmp_path / 'augmented')
  stale_dir = os.path.join(augmented.uri, f'Split-{features.EVAL_SPLIT}')
  os.makedirs(os.path.join(stale_dir, 'beam-temp-data_tfrecord-9f8e'))
  [ingested_file] = tf.io.gfile.glob(os.path.join(eval_dir, 'data_tfrecord-*'))
  tf.io.gfile.copy(ingested_file, os.path.join(stale_dir, 'data_tfrecord-00000-of-00003'))
  noise_executor.Executor().Do({'examples': [ingested]}, {'augmented_examples': [augmented]},
                               {'noise_factor': 0.2, 'seed': 1})
  assert os.listdir(stale_dir) == ['data_tfrecord-00000-of-00001']
  ids = [e[features.ID_KEY] for e in _read_augmented(augmented.uri)[features.EVAL_SPLIT]]
  assert sorted(ids) == sorted(f'eval-{i}'.encode() for i in range(24))
