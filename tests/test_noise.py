"""NoiseAugmenter: the noise's statistics, clipping, determinism and parameter checks."""
import os

import numpy as np
import pytest
import tensorflow as tf
from tfx.types import artifact_utils
from tfx.types import standard_artifacts

from components import features
from components import tfrecord_io
from components.ingestion import executor as ingestion_executor
from components.ingestion.component import FashionMnistExampleGen
from components.noise import executor as noise_executor
from components.noise import noise
from components.noise.component import NoiseAugmenter
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


def test_each_example_gets_the_first_draws_of_its_own_philox_stream():
  ids = _ids(5)
  for row, example_id in zip(noise.draw_noise(9, ids), ids):
    stream = np.random.Generator(np.random.Philox(key=noise.example_key(9, example_id)))
    np.testing.assert_array_equal(row, stream.standard_normal(features.IMAGE_PIXELS, np.float32))


@pytest.mark.parametrize('noise_factor, seed, message', [
    (-0.1, 0, 'noise_factor must be finite and >= 0'),
    (float('nan'), 0, 'noise_factor must be finite and >= 0'),
    (float('inf'), 0, 'noise_factor must be finite and >= 0'),
    ('0.2', 0, 'noise_factor must be a number'),
    (0.2, -1, 'seed must be an integer >= 0'),
    (0.2, 1.5, 'seed must be an integer >= 0'),
])
def test_bad_parameters_fail_at_construction(noise_factor, seed, message):
  with pytest.raises(ValueError, match=message):
    NoiseAugmenter(examples=FashionMnistExampleGen().outputs['examples'],
                   noise_factor=noise_factor, seed=seed)


# ---------------------------------------------------------------- component

def _augment(data_dir, root, seed, noise_factor=0.2, beam_args=None):
  gen = FashionMnistExampleGen(data_dir=data_dir)
  augmenter = NoiseAugmenter(examples=gen.outputs['examples'],
                             noise_factor=noise_factor, seed=seed)
  config = tfx_helpers.run_components([gen, augmenter], str(root), beam_args=beam_args)
  # The augmenter's output is the newest Examples artifact.
  augmented = max(tfx_helpers.live_artifacts(config, 'Examples'), key=lambda a: a.id)
  assert artifact_utils.decode_split_names(
      augmented.properties['split_names'].string_value) == list(features.SPLITS)
  # The output carries its own facts, for the report and later readers.
  assert augmented.custom_properties['noise_factor'].double_value == noise_factor
  assert augmented.custom_properties['seed'].int_value == seed
  result = {}
  for split in features.SPLITS:
    files = tf.io.gfile.glob(os.path.join(augmented.uri, f'Split-{split}', '*'))
    for record in tfrecord_io.tfrecord_dataset(files):
      parsed = tf.io.parse_single_example(record, features.augmented_feature_spec())
      result[parsed[features.ID_KEY].numpy()] = {k: v.numpy() for k, v in parsed.items()}
  return result


def test_component_adds_the_formula_noise_deterministically(tiny_data_dir, tmp_path):
  in_process = _augment(tiny_data_dir, tmp_path / 'a', seed=11)
  assert len(in_process) == 48 + 24
  two_workers = _augment(tiny_data_dir, tmp_path / 'b', seed=11, beam_args=[
      '--direct_running_mode=multi_processing', '--direct_num_workers=2'])
  again = _augment(tiny_data_dir, tmp_path / 'c', seed=11)
  other_seed = _augment(tiny_data_dir, tmp_path / 'd', seed=12)
  for example_id, example in in_process.items():
    for other in (two_workers, again):
      np.testing.assert_array_equal(example[features.NOISY_KEY], other[example_id][features.NOISY_KEY])
    # Exactly the tutorial's formula with this example's noise.
    expected = noise.add_noise(example[features.CLEAN_KEY][None],
                               noise.draw_noise(11, [example_id]), 0.2)[0]
    np.testing.assert_allclose(example[features.NOISY_KEY], expected, atol=1e-7)
  changed = [not np.array_equal(e[features.NOISY_KEY], other_seed[i][features.NOISY_KEY])
             for i, e in in_process.items()]
  assert all(changed)


def test_component_with_zero_noise_keeps_images_clean(tiny_data_dir, tmp_path):
  examples = _augment(tiny_data_dir, tmp_path, seed=0, noise_factor=0.0)
  for example in examples.values():
    np.testing.assert_array_equal(example[features.NOISY_KEY], example[features.CLEAN_KEY])
    assert 0.0 <= example[features.CLEAN_KEY].min() and example[features.CLEAN_KEY].max() <= 1.0


def test_corrupt_input_file_fails_naming_it_and_publishes_nothing(tiny_data_dir, tmp_path):
  ingested = standard_artifacts.Examples()
  ingested.uri = str(tmp_path / 'ingested')
  ingestion_executor.Executor().Do({}, {'examples': [ingested]}, {'data_dir': tiny_data_dir})
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
  written = [f for f in tf.io.gfile.glob(os.path.join(augmented.uri, 'Split-*', '*'))
             if not tf.io.gfile.isdir(f)]
  assert written == []
