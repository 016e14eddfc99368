"""Training: models, the tf.data input, distribution, export and NaN handling."""
import json
import math
import subprocess
import sys
from unittest import mock

import numpy as np
import pytest
import tensorflow as tf
import tf_keras
from tfx.components.trainer import fn_args_utils

from components import features
from components.ingestion import idx
from components.model_code import denoise_trainer
from components.model_code import hparams
from components.model_code import metrics
from components.model_code import model as model_lib
from components.noise import noise
from components.noise.executor import to_noisy_example
from pipeline import configs
from tests import conftest


def _noised(images, ids, seed=0):
  """(noisy, clean) float32 [n, 28, 28, 1] of uint8 images, with the pipeline's noise for ids."""
  n = len(images)
  clean = noise.to_unit_float(images.reshape(n, -1))
  noisy = noise.add_noise(clean, noise.draw_noise(seed, ids), configs.DEFAULT_NOISE_FACTOR)
  shape = (n, *features.IMAGE_SHAPE)
  return noisy.reshape(shape), clean.reshape(shape)


def _pairs(n, seed=0):
  """(noisy, clean, ids) from the structured test images."""
  images, _ = conftest.make_images(n, seed)
  ids = [f'train-{i}'.encode() for i in range(n)]
  return (*_noised(images, ids, seed), ids)


def _write_tfrecords(path, n):
  noisy, clean, ids = _pairs(n)
  with tf.io.TFRecordWriter(path, options='GZIP') as writer:
    for x, y, example_id in zip(noisy, clean, ids):
      writer.write(to_noisy_example(y.reshape(-1), x.reshape(-1), 0, example_id))
  return noisy, clean


@pytest.mark.parametrize('name', hparams.MODEL_NAMES)
def test_models_map_images_to_images_in_unit_range(name):
  model = model_lib.build_model(name)
  out = model(np.random.default_rng(0).random((3, 28, 28, 1), np.float32))
  assert model.input_shape == (None, 28, 28, 1) and model.output_shape == (None, 28, 28, 1)
  assert out.shape == (3, 28, 28, 1)
  assert 0.0 <= float(tf.reduce_min(out)) and float(tf.reduce_max(out)) <= 1.0


def test_tutorial_model_has_the_tutorial_layers():
  layers = model_lib.tutorial_model().layers[1:]
  assert [(type(l).__name__, l.filters, l.strides) for l in layers] == [
      ('Conv2D', 16, (2, 2)), ('Conv2D', 8, (2, 2)), ('Conv2DTranspose', 8, (2, 2)),
      ('Conv2DTranspose', 16, (2, 2)), ('Conv2D', 1, (1, 1))]
  assert layers[-1].activation.__name__ == 'sigmoid'


def test_unet_subtracts_its_noise_estimate_from_the_input():
  model = model_lib.unet_model()
  noise_head = [l for l in model.layers if isinstance(l, tf_keras.layers.Conv2D)][-1]
  assert noise_head.filters == 4  # one noise value per pixel of a 2x2 block
  noise_head.set_weights([np.zeros_like(w) for w in noise_head.get_weights()])
  images = np.random.default_rng(1).random((2, 28, 28, 1), np.float32)
  np.testing.assert_allclose(model(images).numpy(), images, atol=1e-6)  # no noise: identity
  noise_head.set_weights([noise_head.get_weights()[0], np.full(4, 0.25, np.float32)])
  np.testing.assert_allclose(model(images).numpy(), np.clip(images - 0.25, 0, 1), atol=1e-6)


@pytest.mark.parametrize('kwargs, message', [
    ({'model': 'resnet'}, 'model must be one of tutorial, unet'),
    ({'epochs': 0}, 'epochs must be an integer >= 1'),
    ({'batch_size': 2.5}, 'batch_size must be an integer >= 1'),
    ({'learning_rate': float('nan')}, 'learning_rate must be a finite number > 0'),
    ({'learning_rate': -1e-3}, 'learning_rate must be a finite number > 0'),
])
def test_bad_training_parameters_are_refused(kwargs, message):
  params = dict(model='tutorial', epochs=1, batch_size=32, learning_rate=1e-3)
  params.update(kwargs)
  with pytest.raises(ValueError, match=message):
    hparams.validate_training_params(**params)


def test_dataset_yields_noisy_inputs_and_clean_targets(tmp_path):
  path = str(tmp_path / 'data.gz')
  noisy, clean = _write_tfrecords(path, 20)
  dataset = denoise_trainer.make_dataset([path], batch_size=8)
  assert int(dataset.cardinality()) == 3
  batches = list(dataset)
  assert [b[0].shape[0] for b in batches] == [8, 8, 4]
  np.testing.assert_array_equal(np.concatenate([b[0] for b in batches]), noisy)
  np.testing.assert_array_equal(np.concatenate([b[1] for b in batches]), clean)
  shuffled = np.concatenate([b[1] for b in denoise_trainer.make_dataset([path], 8, shuffle_seed=1)])
  assert not np.array_equal(shuffled, clean)
  np.testing.assert_array_equal(np.sort(shuffled, axis=None), np.sort(clean, axis=None))


def _write_shards(directory, n, shards):
  """n distinct examples dealt round-robin into `shards` gzipped files; returns (pattern, clean)."""
  noisy, clean, ids = _pairs(n)
  for shard in range(shards):
    with tf.io.TFRecordWriter(str(directory / f'data-{shard}.gz'), options='GZIP') as writer:
      for i in range(shard, n, shards):
        writer.write(to_noisy_example(clean[i].reshape(-1), noisy[i].reshape(-1), 0, ids[i]))
  return str(directory / 'data-*'), clean


def _dataset_ops(dataset):
  """The names of the tf.data ops that make up a dataset's graph."""
  graph = tf.compat.v1.GraphDef()
  graph.ParseFromString(dataset._as_serialized_graph().numpy())  # pylint: disable=protected-access
  return {node.op for node in graph.node}


# 64 examples of 6,272 bytes: the largest budget that streams them, and the
# smallest that caches them, from the examples' size, not from the code's constant.
STREAMING_BUDGET = 64 * 2 * 784 * 4 - 1
CACHING_BUDGET = 64 * 2 * 784 * 4


def test_examples_over_the_memory_budget_stream_from_the_files_and_hold_no_cache(tmp_path):
  pattern, clean = _write_shards(tmp_path, 64, 3)
  streamed = denoise_trainer.make_dataset([pattern], 16, shuffle_seed=3,
                                          memory_budget_bytes=STREAMING_BUDGET)
  cached = denoise_trainer.make_dataset([pattern], 16, shuffle_seed=3,
                                        memory_budget_bytes=CACHING_BUDGET)
  assert not [op for op in _dataset_ops(streamed) if op.startswith('Cache')]
  assert 'CacheDatasetV2' in _dataset_ops(cached)
  assert int(streamed.cardinality()) == 4
  first, second = ([b[1].numpy() for b in streamed] for _ in range(2))
  assert [len(b) for b in first] == [16] * 4
  np.testing.assert_array_equal(np.sort(np.concatenate(first), axis=None), np.sort(clean, axis=None))
  assert not np.array_equal(np.concatenate(first), np.concatenate(second))  # reshuffled each epoch
  again = denoise_trainer.make_dataset([pattern], 16, shuffle_seed=3,
                                       memory_budget_bytes=STREAMING_BUDGET)
  np.testing.assert_array_equal(np.concatenate([b[1] for b in again]), np.concatenate(first))


def test_streamed_examples_train_with_several_steps_per_call_and_validate(tmp_path):
  pattern, _ = _write_shards(tmp_path, 256, 3)
  train_ds = denoise_trainer.make_dataset([pattern], 32, shuffle_seed=0,
                                          memory_budget_bytes=STREAMING_BUDGET)
  eval_ds = denoise_trainer.make_dataset([pattern], 32, memory_budget_bytes=STREAMING_BUDGET)
  model, history = denoise_trainer.train('tutorial', train_ds, eval_ds, epochs=3,
                                         learning_rate=3e-3, seed=0)
  assert history.history['loss'][-1] < 0.7 * history.history['loss'][0]
  assert len(history.history['val_loss']) == 3
  assert history.history['val_loss'][-1] < history.history['val_loss'][0]
  assert int(model.optimizer.iterations) == 3 * 8


def test_short_training_lowers_the_loss_with_every_step_taken():
  noisy, clean, _ = _pairs(250)
  ds = tf.data.Dataset.from_tensor_slices((noisy, clean)).batch(32)  # 8 batches, last of 26
  model, history = denoise_trainer.train('tutorial', ds, ds, epochs=4, learning_rate=3e-3)
  losses = history.history['loss']
  assert losses[-1] < 0.7 * losses[0]
  assert int(model.optimizer.iterations) == 4 * 8


def test_fit_traces_its_train_function_once():
  """Adam's slot variables exist before fit: a function that creates variables is traced twice."""
  noisy, clean, _ = _pairs(96)
  ds = tf.data.Dataset.from_tensor_slices((noisy, clean)).batch(32)
  model, _ = denoise_trainer.train('tutorial', ds, ds, epochs=2, learning_rate=1e-3)
  assert model.train_function.experimental_get_tracing_count() == 1


def test_same_seed_trains_the_same_weights_and_another_seed_does_not():
  noisy, clean, _ = _pairs(64)
  ds = tf.data.Dataset.from_tensor_slices((noisy, clean)).batch(32)

  def weights(seed):
    model, _ = denoise_trainer.train('tutorial', ds, ds, epochs=1, learning_rate=1e-3, seed=seed)
    return model.get_weights()

  first, again, other = weights(5), weights(5), weights(6)
  for a, b in zip(first, again):
    np.testing.assert_array_equal(a, b)
  assert not np.allclose(first[0], other[0])


def test_training_and_export_leave_keras_code_to_autograph_unconverted(tmp_path):
  """Only the functions Keras hands to tf.function are rewritten, not tf_keras's layers, losses, optimizer."""
  from tensorflow.python.autograph.core import config as autograph_config  # pylint: disable=g-import-not-at-top
  from tensorflow.python.autograph.impl import api as autograph_api  # pylint: disable=g-import-not-at-top
  noisy, clean, _ = _pairs(64)
  ds = tf.data.Dataset.from_tensor_slices((noisy, clean)).batch(32)
  rules = autograph_config.CONVERSION_RULES
  transform = autograph_api._TRANSPILER.transform  # pylint: disable=protected-access
  converted = []

  def record(entity, context):
    converted.append(f'{entity.__module__}.{entity.__qualname__}')
    return transform(entity, context)

  with mock.patch.object(autograph_api._TRANSPILER, 'transform', side_effect=record):  # pylint: disable=protected-access
    model, _ = denoise_trainer.train('tutorial', ds, ds, epochs=1, learning_rate=1e-3, seed=0)
    denoise_trainer.export_serving_model(model, str(tmp_path / 'export'))
  keras_converted = {name for name in converted if name.startswith('tf_keras.')}
  assert keras_converted == {
      'tf_keras.src.engine.training.Model.make_train_function.<locals>.train_function',
      'tf_keras.src.engine.training.Model.make_test_function.<locals>.test_function',
      'tf_keras.src.saving.legacy.saving_utils.trace_model_call.<locals>._wrapped_model'}
  assert autograph_config.CONVERSION_RULES is rules


def _real_pairs(split, n):
  """(noisy, clean) of the first n real images of a split, noised as the pipeline does."""
  images, _ = idx.load_split(conftest.REAL_DATA_DIR, split)
  return _noised(images[:n], [idx.example_id(split, i).encode() for i in range(n)],
                 configs.DEFAULT_SEED)


@pytest.mark.skipif(not conftest.real_data_available(),
                    reason='real Fashion-MNIST not installed (apt-get install dataset-fashion-mnist)')
def test_unet_denoises_a_real_subset_far_above_the_noisy_input():
  """Quality on real data, small: 3,000 training images for 3 epochs, 1,000 eval images.

  In the precision run_fn would choose on this machine. The floor, 20.5 dB,
  is far below the benchmark's 24 dB (10 epochs, 60,000 images,
  bench/RESULTS.md) and 1.6 dB below what this test measured (22.1 dB), so
  that it is not flaky; the noisy input scores 16.0 dB, and the tutorial
  model, trained alike, 18.0 dB.
  """
  train_noisy, train_clean = _real_pairs(features.TRAIN_SPLIT, 3000)
  eval_noisy, eval_clean = _real_pairs(features.EVAL_SPLIT, 1000)
  train_ds = (tf.data.Dataset.from_tensor_slices((train_noisy, train_clean))
              .shuffle(3000, seed=configs.DEFAULT_SEED).batch(configs.DEFAULT_BATCH_SIZE))
  eval_ds = tf.data.Dataset.from_tensor_slices((eval_noisy, eval_clean)).batch(1000)
  precision = denoise_trainer.machine_precision_policy('unet', mixed_precision=False)
  model, _ = denoise_trainer.train('unet', train_ds, eval_ds, epochs=3,
                                   learning_rate=configs.DEFAULT_LEARNING_RATE,
                                   seed=configs.DEFAULT_SEED, precision=precision)
  psnr = metrics.PER_IMAGE['psnr']
  noisy_db = float(np.mean(psnr(eval_clean, eval_noisy)))
  denoised_db = float(np.mean(psnr(eval_clean, model.predict(eval_noisy, verbose=0))))
  assert 15.5 < noisy_db < 16.5
  assert denoised_db >= 20.5, (noisy_db, denoised_db)


def test_mixed_precision_trains_the_unet_and_keeps_float32_output():
  # The tutorial model: through run_fn, in test_run_fn_trains_in_mixed_precision_...
  noisy, clean, _ = _pairs(16)
  ds = tf.data.Dataset.from_tensor_slices((noisy, clean)).batch(16)
  model, _ = denoise_trainer.train('unet', ds, ds, epochs=1, learning_rate=1e-3,
                                   precision='mixed_float16')
  assert model.layers[1].compute_dtype == 'float16'
  assert model(noisy[:2]).dtype == tf.float32
  assert tf.keras.mixed_precision.global_policy().name == 'float32'


def test_non_finite_loss_stops_training_with_a_clear_message():
  noisy, clean, _ = _pairs(64)
  ds = tf.data.Dataset.from_tensor_slices((noisy, clean)).batch(16)
  with pytest.raises(denoise_trainer.NonFiniteLossError, match='training loss became nan'):
    denoise_trainer.train('tutorial', ds, ds, epochs=2, learning_rate=1e10, seed=0)


@pytest.mark.parametrize('model, mixed_precision, on_gpu, bfloat16_cpu, policy', [
    ('unet', True, True, False, 'mixed_float16'),     # asked for, on a GPU
    ('unet', True, False, True, 'mixed_float16'),     # asked for wins over the CPU's bfloat16
    ('unet', False, True, True, 'float32'),           # a GPU trains in float32 unless asked
    ('unet', False, False, True, 'mixed_bfloat16'),   # a CPU that multiplies bfloat16
    ('unet', False, False, False, 'float32'),
    ('tutorial', False, False, True, 'float32'),      # slower and worse in bfloat16
    ('tutorial', True, True, False, 'mixed_float16'),
])
def test_precision_policy(model, mixed_precision, on_gpu, bfloat16_cpu, policy):
  assert denoise_trainer.precision_policy(model, mixed_precision, on_gpu, bfloat16_cpu) == policy


@pytest.mark.parametrize('flags, expected', [
    ('fpu sse2 avx2 avx512f avx512_bf16 avx512_vnni', True),   # AMD Zen 4
    ('fpu sse2 avx2 avx512f amx_bf16 amx_tile', True),         # Intel Sapphire Rapids
    ('fpu sse2 avx2 avx512f avx512_vnni', False),
    (None, False),                                             # no /proc/cpuinfo
])
def test_cpu_multiplies_bfloat16_reads_the_cpu_flags(tmp_path, flags, expected):
  cpuinfo = tmp_path / 'cpuinfo'
  if flags is not None:
    cpuinfo.write_text(f'processor\t: 0\nflags\t\t: {flags}\n\nprocessor\t: 1\nflags\t\t: {flags}\n')
  assert denoise_trainer.cpu_multiplies_bfloat16(str(cpuinfo)) is expected


def _fn_args(tmp_path, **custom_config):
  """run_fn's arguments as the Trainer passes them, on 48 train and 16 eval examples.

  Whole batches of 16: with oneDNN (TensorFlow's CPU default), a partial batch
  split over two logical CPU devices crashes a convolution inside TensorFlow.
  """
  _write_tfrecords(str(tmp_path / 'train.gz'), 48)
  _write_tfrecords(str(tmp_path / 'eval.gz'), 16)
  config = dict(model='tutorial', epochs=1, batch_size=8, learning_rate=1e-3, seed=0,
                mixed_precision=False)
  config.update(custom_config)
  return fn_args_utils.FnArgs(
      train_files=[str(tmp_path / 'train*')], eval_files=[str(tmp_path / 'eval*')],
      custom_config=config, model_run_dir=str(tmp_path / 'model_run'),
      serving_model_dir=str(tmp_path / 'serving_model'))


@pytest.fixture(name='exported', scope='module')
def fixture_exported(tmp_path_factory):
  """A SavedModel that run_fn trained in mixed precision and exported."""
  fn_args = _fn_args(tmp_path_factory.mktemp('run_fn'), mixed_precision=True)
  denoise_trainer.run_fn(fn_args)
  return fn_args.serving_model_dir


@pytest.mark.parametrize('bfloat16_cpu, trained_in', [(True, 'bfloat16'), (False, 'float32')])
def test_run_fn_trains_in_bfloat16_on_a_cpu_that_has_it_and_exports_float32(
    tmp_path, bfloat16_cpu, trained_in):
  trained = {}

  def watched_train(*args, **kwargs):
    trained['model'], history = train(*args, **kwargs)
    return trained['model'], history

  train = denoise_trainer.train
  fn_args = _fn_args(tmp_path, model='unet')
  with mock.patch.object(denoise_trainer, 'cpu_multiplies_bfloat16', return_value=bfloat16_cpu), \
       mock.patch.object(denoise_trainer, 'train', watched_train):
    denoise_trainer.run_fn(fn_args)
  assert trained['model'].layers[2].compute_dtype == trained_in
  exported = tf_keras.models.load_model(fn_args.serving_model_dir)
  assert {layer.compute_dtype for layer in exported.layers[1:]} == {'float32'}
  learnt = trained['model'].get_weights()
  for served, warm_start, weights in zip(
      exported.get_weights(), denoise_trainer.load_weights_of('unet', fn_args.serving_model_dir),
      learnt, strict=True):
    np.testing.assert_array_equal(served, weights)
    np.testing.assert_array_equal(warm_start, weights)
  assert tf.keras.mixed_precision.global_policy().name == 'float32'


def test_run_fn_trains_in_mixed_precision_and_exports_float32_outputs(exported):
  model = tf_keras.models.load_model(exported)
  assert model.layers[1].dtype_policy.name == 'mixed_float16'
  assert model.layers[1].compute_dtype == 'float16'
  noisy, _, _ = _pairs(3)
  serve = tf.saved_model.load(exported).signatures['serving_default']
  assert serve(images=tf.constant(noisy))['denoised'].dtype == tf.float32
  assert tf.keras.mixed_precision.global_policy().name == 'float32'


def test_exported_model_serves_images_and_examples(exported):
  noisy, _, _ = _pairs(6)
  loaded = tf.saved_model.load(exported)
  serve = loaded.signatures['serving_default']
  denoised = serve(images=tf.constant(noisy))['denoised'].numpy()
  assert denoised.shape == (6, 28, 28, 1)
  assert denoised.min() >= 0.0 and denoised.max() <= 1.0
  model = tf_keras.models.load_model(exported)
  np.testing.assert_allclose(denoised, model(noisy).numpy(), atol=1e-3)  # float16 inside

  outputs = loaded.signatures['serving_examples'](noisy=tf.constant(noisy.reshape(6, 784)))
  pair = outputs['denoised_and_noisy'].numpy()
  assert pair.shape == (6, 28, 28, 2)
  np.testing.assert_allclose(pair[..., :1], denoised, atol=1e-6)
  np.testing.assert_array_equal(pair[..., 1:], noisy)


@pytest.mark.parametrize('bad, message', [
    (-0.01, r'images must be in \[0, 1\] \(found a value < 0 or NaN\)'),
    (1.01, r'images must be in \[0, 1\] \(found a value > 1 or NaN\)'),
    (float('nan'), r'images must be in \[0, 1\] \(found a value < 0 or NaN\)'),
])
def test_both_signatures_refuse_values_outside_the_unit_range(exported, bad, message):
  noisy, _, _ = _pairs(2)
  noisy[1, 14, 14, 0] = bad  # one pixel of one image
  loaded = tf.saved_model.load(exported)
  with pytest.raises(tf.errors.InvalidArgumentError, match=message):
    loaded.signatures['serving_default'](images=tf.constant(noisy))
  with pytest.raises(tf.errors.InvalidArgumentError, match=message):
    loaded.signatures['serving_examples'](noisy=tf.constant(noisy.reshape(2, 784)))


def test_serving_refuses_other_image_shapes(exported):
  serve = tf.saved_model.load(exported).signatures['serving_default']
  with pytest.raises(tf.errors.InvalidArgumentError, match=r'shape \[batch, 28, 28, 1\]'):
    serve(images=tf.zeros([2, 32, 32, 1]))


MULTI_DEVICE_SCRIPT = '''
import json, sys
import tensorflow as tf
cpu = tf.config.list_physical_devices('CPU')[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
from components.model_code import denoise_trainer
from tests import test_trainer
seen = {}
train = denoise_trainer.train

def watched_train(model_name, train_ds, eval_ds, epochs, learning_rate, **kwargs):
  seen['batches_per_epoch'] = int(train_ds.cardinality())
  model, history = train(model_name, train_ds, eval_ds, epochs, learning_rate, **kwargs)
  seen['strategy'] = type(model.distribute_strategy).__name__
  seen['replicas'] = model.distribute_strategy.num_replicas_in_sync
  seen['steps'] = int(model.optimizer.iterations.numpy())
  seen['loss'] = history.history['loss'][-1]
  return model, history

denoise_trainer.train = watched_train
import pathlib
fn_args = test_trainer._fn_args(pathlib.Path(sys.argv[1]), model='unet', epochs=2, batch_size=8)
denoise_trainer.run_fn(fn_args)
seen['exported'] = tf.io.gfile.exists(fn_args.serving_model_dir + '/saved_model.pb')
print('RESULT', json.dumps(seen))
'''


def test_run_fn_mirrors_over_two_devices_with_a_global_batch_per_device_batch_times_two(
    tmp_path):
  """The GPU code path on CPU: two logical devices make MirroredStrategy really split batches."""
  result = subprocess.run([sys.executable, '-c', MULTI_DEVICE_SCRIPT, str(tmp_path)],
                          cwd=conftest.ROOT, capture_output=True, text=True, timeout=600)
  lines = [l for l in result.stdout.splitlines() if l.startswith('RESULT ')]
  assert lines, result.stderr[-3000:]
  seen = json.loads(lines[0][len('RESULT '):])
  assert seen['strategy'] == 'MirroredStrategy' and seen['replicas'] == 2
  # 48 examples, --batch_size=8 per device on 2 devices: batches of 16, 3 per epoch.
  assert seen['batches_per_epoch'] == 3 and seen['steps'] == 2 * 3
  assert math.isfinite(seen['loss']) and seen['exported']
