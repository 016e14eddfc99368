"""The TFX Trainer module: `run_fn` trains a denoiser on the NoiseAugmenter's examples.

The Trainer imports it by module path, locally as in the Kubeflow image.
"""
import contextlib
import math
import os

from absl import logging
import tensorflow as tf
from tensorflow.python.autograph.core import config as autograph_config  # pylint: disable=g-direct-tensorflow-import
import tf_keras as keras

from components import features
from components import outputs
from components import tfrecord_io
from components.model_code import hparams
from components.model_code import model as model_lib

_PARSE_BATCH = 1024
# Training steps per call into the compiled graph. At batch 32 the model is
# small enough that Python's per-step overhead rivals the step itself:
# 16 steps a call trained 2x faster on 2 CPU cores, with the same updates.
STEPS_PER_EXECUTION = 16
# The most a dataset may hold in RAM: below it, the parsed examples are cached
# (a parse once, a full shuffle each epoch); above it, they stream from the
# files. At 60,000 examples the cache trained 7% faster than streaming (5.75
# against 6.17 ms a step, the two in turn in one process) and held 346 MB more
# (bench/RESULTS.md): 512 MiB holds about 85,000 examples (one clean and one
# noisy float32 image each, _EXAMPLE_BYTES), so Fashion-MNIST is cached and
# larger sets stream, with memory flat in their size.
MEMORY_BUDGET_BYTES = 512 << 20
_EXAMPLE_BYTES = 2 * features.IMAGE_PIXELS * 4
# Streaming shuffles within a buffer of this many serialized examples (about
# 6.4 kB each, 64 MB), drawn from interleaved files in a shuffled order.
STREAM_SHUFFLE_BUFFER = 10_000
_INTERLEAVED_FILES = 4


def _parse_batch(serialized):
  """(noisy, clean) image batches: the model's input and target."""
  parsed = tf.io.parse_example(
      serialized, features.augmented_feature_spec(features.NOISY_KEY, features.CLEAN_KEY))
  shape = [-1, *features.IMAGE_SHAPE]
  return (tf.reshape(parsed[features.NOISY_KEY], shape),
          tf.reshape(parsed[features.CLEAN_KEY], shape))


def fits_in_memory(num_examples, memory_budget_bytes=MEMORY_BUDGET_BYTES):
  """Whether num_examples parsed examples can be cached within the budget."""
  return num_examples * _EXAMPLE_BYTES <= memory_budget_bytes


def _cached_examples(files, batch_size, num_examples, shuffle_seed):
  """Parsed once into RAM; each epoch reads the cache.

  Training shuffles all examples each epoch. Evaluation caches its batches
  as they are served (a few hundred tensors rather than one per example).
  """
  parsed = (tfrecord_io.tfrecord_dataset(files, num_parallel_reads=tf.data.AUTOTUNE)
            .batch(_PARSE_BATCH)
            .map(_parse_batch, num_parallel_calls=tf.data.AUTOTUNE))
  if shuffle_seed is None:
    return parsed.rebatch(batch_size).cache()
  return (parsed.unbatch().cache()
          .shuffle(num_examples, seed=shuffle_seed, reshuffle_each_iteration=True)
          .batch(batch_size))


def _streamed_examples(files, batch_size, shuffle_seed):
  """Read from the files each epoch: RAM holds a shuffle buffer, not the data.

  Training reads the files in a seeded order, reshuffled each epoch, a few at
  a time interleaved record by record (in a fixed order, so a seed gives the
  same batches), and shuffles the serialized records in a bounded buffer.
  """
  compression = tfrecord_io.tfrecord_compression(files)
  ds = tf.data.Dataset.from_tensor_slices(files)
  if shuffle_seed is not None:
    ds = ds.shuffle(len(files), seed=shuffle_seed, reshuffle_each_iteration=True)
  ds = ds.interleave(lambda path: tf.data.TFRecordDataset(path, compression),
                     cycle_length=min(len(files), _INTERLEAVED_FILES),
                     num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
  if shuffle_seed is not None:
    ds = ds.shuffle(STREAM_SHUFFLE_BUFFER, seed=shuffle_seed, reshuffle_each_iteration=True)
  return ds.batch(batch_size).map(_parse_batch, num_parallel_calls=tf.data.AUTOTUNE)


def _without_autotune_model():
  """Options that keep tf.data's autotuning thread out of the pipeline.

  Deleting an iterator joins that thread, which sleeps between optimizations
  for a period that doubles up to a minute; at the end of `fit` the join
  waited out the sleep (up to ~55 s after 10 epochs, bench/RESULTS.md).
  """
  options = tf.data.Options()
  options.autotune.enabled = False
  return options


def make_dataset(file_patterns, batch_size, shuffle_seed=None,
                 memory_budget_bytes=MEMORY_BUDGET_BYTES):
  """(noisy, clean) batches, cached in RAM within memory_budget_bytes, else streamed.

  shuffle_seed None means no shuffling (evaluation). The dataset knows its
  length (counted from the files' TFRecord framing), which Keras needs to run
  several steps per graph call.
  """
  files = tfrecord_io.record_files(file_patterns)
  num_examples = tfrecord_io.count_records(files)
  if fits_in_memory(num_examples, memory_budget_bytes):
    ds = _cached_examples(files, batch_size, num_examples, shuffle_seed)
  else:
    ds = _streamed_examples(files, batch_size, shuffle_seed)
  return (ds.apply(tf.data.experimental.assert_cardinality(math.ceil(num_examples / batch_size)))
          .prefetch(tf.data.AUTOTUNE)
          .with_options(_without_autotune_model()))


def distribution_strategy():
  """Mirrors over every visible GPU, or over logical CPU devices when split.

  One device (a plain CPU machine, or a single GPU) gets the default strategy,
  which places everything there without per-step replica overhead.
  """
  devices = (tf.config.list_logical_devices('GPU') or
             tf.config.list_logical_devices('CPU'))
  if len(devices) > 1:
    return tf.distribute.MirroredStrategy([d.name for d in devices])
  return tf.distribute.get_strategy()


# CPU flags (Linux /proc/cpuinfo) of the bfloat16 dot-product instructions
# that oneDNN's convolutions use: AVX512-BF16 (AMD Zen 4, Intel Cooper Lake
# and later) and AMX (Intel Sapphire Rapids and later).
_BFLOAT16_CPU_FLAGS = frozenset({'avx512_bf16', 'amx_bf16'})


def cpu_multiplies_bfloat16(cpuinfo_path='/proc/cpuinfo'):
  """Whether this CPU has bfloat16 dot-product instructions (False where it cannot tell)."""
  try:
    with open(cpuinfo_path, encoding='utf-8') as cpuinfo:
      return not _BFLOAT16_CPU_FLAGS.isdisjoint(cpuinfo.read().split())
  except OSError:
    return False


def precision_policy(model_name, mixed_precision, on_gpu, bfloat16_cpu):
  """The Keras dtype policy training computes in.

  mixed_float16 when asked for (--mixed_precision, made for GPUs). On a
  machine without a GPU whose CPU multiplies bfloat16 in hardware,
  mixed_bfloat16 for the models that gain from it (model.BFLOAT16_ON_CPU):
  weights and the loss stay float32, the layers compute in bfloat16.
  Otherwise float32.
  """
  if mixed_precision:
    return 'mixed_float16'
  if bfloat16_cpu and not on_gpu and model_name in model_lib.BFLOAT16_ON_CPU:
    return 'mixed_bfloat16'
  return 'float32'


def machine_precision_policy(model_name, mixed_precision):
  """precision_policy on this machine: its GPUs and its CPU's flags."""
  return precision_policy(model_name, mixed_precision,
                          on_gpu=bool(tf.config.list_logical_devices('GPU')),
                          bfloat16_cpu=cpu_multiplies_bfloat16())


@contextlib.contextmanager
def keras_code_not_converted():
  """AutoGraph leaves tf_keras's own code as written while tracing in this block.

  TensorFlow's AutoGraph rules exempt `keras` (Keras 2, written for graph
  mode) but not the same code under its new name, `tf_keras`: every first
  trace of fit's train and test functions and of the export rewrote
  tf_keras's layers, losses, optimizer and metrics, about 20 s of a 35 s
  first epoch (bench/RESULTS.md). This is TensorFlow's rule for the new name,
  in this block only. The functions Keras hands to tf.function are still
  converted: their multi-step loops need it.
  """
  rules = autograph_config.CONVERSION_RULES
  autograph_config.CONVERSION_RULES = (autograph_config.DoNotConvert('tf_keras'), *rules)
  try:
    yield
  finally:
    autograph_config.CONVERSION_RULES = rules


class NonFiniteLossError(RuntimeError):
  pass


class StopOnNonFiniteLoss(keras.callbacks.Callback):
  """Fails training at the first NaN or infinite batch loss."""

  def on_train_batch_end(self, batch, logs=None):
    loss = (logs or {}).get('loss')
    if loss is not None and not math.isfinite(loss):
      raise NonFiniteLossError(
          f'training loss became {loss} at epoch {self._epoch + 1}, batch {batch}: '
          'lower --learning_rate or check the data; no model was exported')

  def on_epoch_begin(self, epoch, logs=None):
    self._epoch = epoch


def load_weights_of(model_name, saved_model_dir):
  """The weights of a SavedModel export_serving_model wrote, as a list (Keras' get_weights).

  Its variables are a checkpoint of the model object, restored by object
  path into a model of its own: every one of its variables must be found,
  with its shape, or this raises (another architecture). The checkpoint also
  holds the exporting run's optimizer (learning rate, step count, moments),
  which TensorFlow would restore into an optimizer created later on the
  same model, so it is not loaded into the model that trains.
  """
  source = model_lib.build_model(model_name)
  # expect_partial: the optimizer and the signatures stay unread, by design.
  source.load_weights(os.path.join(saved_model_dir, 'variables', 'variables')
                      ).assert_existing_objects_matched().expect_partial()
  return source.get_weights()


def warm_start_dir(base_model):
  """The Trainer's base model directory when it holds a SavedModel, else None (cold start)."""
  if base_model and tf.io.gfile.exists(os.path.join(base_model, 'saved_model.pb')):
    return base_model
  return None


def train(model_name, train_ds, eval_ds, epochs, learning_rate, seed=None,
          strategy=None, log_dir=None, precision='float32', callbacks=(),
          initial_weights_dir=None):
  """Builds, compiles and fits a model; raises NonFiniteLossError on NaN.

  The datasets must know their length (make_dataset's do): Keras needs it to
  run several steps per graph call. A seed fixes the initial weights (and
  dropout, Python's and numpy's generators), so a re-run trains the same model.
  initial_weights_dir: a SavedModel of the same architecture to start from
  (warm start) instead of the seeded initial weights. precision: the Keras
  dtype policy the layers compute in (precision_policy's).
  """
  if seed is not None:
    keras.utils.set_random_seed(seed)
  strategy = strategy or distribution_strategy()
  # The policy applies to layers as they are built: set it for this model only.
  keras.mixed_precision.set_global_policy(precision)
  try:
    with strategy.scope():
      model = model_lib.build_model(model_name)
      if initial_weights_dir:
        model.set_weights(load_weights_of(model_name, initial_weights_dir))
      model.compile(optimizer=keras.optimizers.Adam(learning_rate),
                    loss=keras.losses.MeanSquaredError(),
                    steps_per_execution=STEPS_PER_EXECUTION)
      # Adam's slots made here rather than in fit's first trace: a function
      # that creates variables is traced twice (1-1.5 s more on its first call).
      model.optimizer.build(model.trainable_variables)
  finally:
    keras.mixed_precision.set_global_policy('float32')
  callbacks = [StopOnNonFiniteLoss(), *callbacks]
  if log_dir:
    callbacks.append(keras.callbacks.TensorBoard(log_dir=log_dir, update_freq='epoch'))
  with keras_code_not_converted():
    history = model.fit(train_ds, epochs=epochs, validation_data=eval_ds,
                        callbacks=callbacks, verbose=2)
  return model, history


def model_to_export(model_name, model, precision):
  """The model as it is exported: trained in bfloat16, rebuilt in float32.

  bfloat16 is chosen for this machine's CPU (precision_policy); every CPU
  and TF Serving run a float32 model at full speed. The weights are float32
  already (mixed policies keep them so) and are copied as they are.
  """
  if precision != 'mixed_bfloat16':
    return model
  copy = model_lib.build_model(model_name)
  copy.set_weights(model.get_weights())
  return copy


def _check_images(images):
  """Assertions that reject, rather than compute on, malformed input."""
  # A concrete signature does not enforce its static shape when called.
  return [tf.debugging.assert_equal(
              tf.shape(images)[1:], tf.constant(features.IMAGE_SHAPE),
              message='images must have shape [batch, 28, 28, 1]'),
          tf.debugging.assert_greater_equal(
              images, 0.0, message='images must be in [0, 1] (found a value < 0 or NaN)'),
          tf.debugging.assert_less_equal(
              images, 1.0, message='images must be in [0, 1] (found a value > 1 or NaN)')]


def export_serving_model(model, export_dir):
  """Saves one SavedModel with an image signature and the Evaluator's signature."""
  image_spec = tf.TensorSpec([None, *features.IMAGE_SHAPE], tf.float32,
                             name=features.SERVING_INPUT_KEY)

  @tf.function(input_signature=[image_spec])
  def serve_images(images):
    with tf.control_dependencies(_check_images(images)):
      return {features.SERVING_OUTPUT_KEY: model(images, training=False)}

  @tf.function(input_signature=[
      tf.TensorSpec([None, features.IMAGE_PIXELS], tf.float32, name=features.NOISY_KEY)])
  def serve_examples(noisy):
    images = tf.reshape(noisy, [-1, *features.IMAGE_SHAPE])
    with tf.control_dependencies(_check_images(images)):
      denoised = model(images, training=False)
    return {features.SERVING_OUTPUT_KEY: denoised,
            features.EVAL_OUTPUT_KEY: tf.concat([denoised, images], axis=-1)}

  with keras_code_not_converted():
    model.save(export_dir, save_format='tf', signatures={
        features.SERVING_SIGNATURE: serve_images,
        features.EXAMPLES_SIGNATURE: serve_examples,
    })


def run_fn(fn_args):
  """TFX Trainer entry point (GenericExecutor).

  Settings come from custom_config (seed, mixed_precision) and the
  hyperparameters input (model, epochs, batch_size, learning_rate: what
  TrainingHyperparameters, or a Tuner, writes), which wins. A base model
  holding a SavedModel (WarmStartModel's) gives the initial weights.
  Training computes in precision_policy's dtype policy; a model trained in
  bfloat16 is exported in float32 (model_to_export).
  """
  # What a failed attempt exported or logged: the model and its TensorBoard run are this one's.
  for directory in (fn_args.serving_model_dir, fn_args.model_run_dir):
    outputs.empty_output_dir(directory)
  config = dict(fn_args.custom_config or {},
                **(fn_args.hyperparameters or {}).get('values', {}))
  hparams.validate_training_params(config['model'], config['epochs'],
                                     config['batch_size'], config['learning_rate'])
  strategy = distribution_strategy()
  global_batch = config['batch_size'] * strategy.num_replicas_in_sync
  logging.info('Training %s on %d replica(s), global batch %d',
               config['model'], strategy.num_replicas_in_sync, global_batch)
  train_ds = make_dataset(fn_args.train_files, global_batch, shuffle_seed=config['seed'])
  eval_ds = make_dataset(fn_args.eval_files, global_batch)
  initial_weights_dir = warm_start_dir(fn_args.base_model)
  logging.info('Initial weights: %s', initial_weights_dir or f'seeded ({config["seed"]})')
  precision = machine_precision_policy(config['model'], config.get('mixed_precision', False))
  logging.info('Training computes in %s', precision)
  model, _ = train(config['model'], train_ds, eval_ds, config['epochs'],
                   config['learning_rate'], seed=config['seed'], strategy=strategy,
                   log_dir=fn_args.model_run_dir, precision=precision,
                   initial_weights_dir=initial_weights_dir)
  export_serving_model(model_to_export(config['model'], model, precision),
                       fn_args.serving_model_dir)
