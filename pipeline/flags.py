"""The flags both runners share, defined once: each create_pipeline() argument a user sets.

Importing this module defines them; pipeline_kwargs() reads them back by the
same holders, so a flag's name is written once. check_values() refuses
out-of-range values with the components' own rules; nothing here imports
TensorFlow, so a runner calls it first.
"""
from absl import flags

from components.evaluation import gates
from components.ingestion import data_sources
from components.ingestion import spans
from components.model_code import hparams
from components.noise import noise
from pipeline import configs

DATA_DIR = flags.DEFINE_string(
    'data_dir', None,
    'Directory of the four Fashion-MNIST IDX files (gzipped or not), or of span '
    'directories span-1/, span-2/, ... each holding them. '
    f'Default: ${data_sources.DATA_DIR_ENV}, the Keras cache, '
    f'{data_sources.DEBIAN_DATA_DIR}, else a download into the Keras cache.')
SERVING_DIR = flags.DEFINE_string(
    'serving_dir', None,
    'Push destination: one numbered SavedModel directory per deployed version '
    f"(TF Serving's model base path). Default: <output dir or pipeline root>/"
    f'{configs.SERVING_DIR_NAME}.')
BEAM_PIPELINE_ARGS = flags.DEFINE_list(
    'beam_pipeline_args', [],
    'Comma-separated Beam options for the Beam stages, e.g. '
    '--runner=DataflowRunner,--project=...,--region=...')

SPANS = flags.DEFINE_integer('spans', configs.DEFAULT_SPANS,
                             'Train on the latest N spans of --data_dir (evaluate on the latest).')

# create_pipeline() keyword arguments, under their own names.
PIPELINE_FLAGS = (
    SPANS,
    flags.DEFINE_bool('warm_start', True,
                      "Start training from the deployed model's weights when it has the same "
                      'architecture and was trained on other data.'),
    flags.DEFINE_integer('train_examples', 0,
                         'Use the first N training images of each span (0 = all: 60,000 in '
                         'Fashion-MNIST).'),
    flags.DEFINE_integer('eval_examples', 0,
                         'Use the first N eval images of the latest span (0 = all: 10,000).'),
    flags.DEFINE_float('noise_factor', configs.DEFAULT_NOISE_FACTOR,
                       'Standard deviation of the Gaussian noise added to [0, 1] images.'),
    flags.DEFINE_integer('seed', configs.DEFAULT_SEED,
                         'Seed of the noise (per example id), the training shuffle and the '
                         'initial weights.'),
    flags.DEFINE_enum('model', configs.DEFAULT_MODEL, hparams.MODEL_NAMES,
                      "Architecture: the tutorial's autoencoder or a small U-Net."),
    flags.DEFINE_integer('epochs', configs.DEFAULT_EPOCHS, 'Training epochs.'),
    flags.DEFINE_integer('batch_size', configs.DEFAULT_BATCH_SIZE,
                         'Training batch size per replica (device).'),
    flags.DEFINE_float('learning_rate', configs.DEFAULT_LEARNING_RATE, 'Adam learning rate.'),
    flags.DEFINE_bool('mixed_precision', False,
                      'Train in mixed float16 (worthwhile on GPUs with tensor cores).'),
    flags.DEFINE_float('min_psnr_gain_db', configs.DEFAULT_MIN_PSNR_GAIN_DB,
                       'Blessing: mean PSNR must beat the noisy input by at least this (dB).'),
    flags.DEFINE_float('min_ssim', configs.DEFAULT_MIN_SSIM, 'Blessing: minimum mean SSIM.'),
    flags.DEFINE_float('max_psnr_drop_db', configs.DEFAULT_MAX_PSNR_DROP_DB,
                       'Blessing: the candidate may be at most this much worse (dB PSNR) '
                       'than the best deployed version, on the same eval images.'),
    flags.DEFINE_float('max_ssim_drop', configs.DEFAULT_MAX_SSIM_DROP,
                       'Blessing: the candidate\'s mean SSIM may be at most this much lower '
                       'than that version\'s.'),
    flags.DEFINE_bool('data_validation', True,
                      'Run StatisticsGen, SchemaGen and ExampleValidator on the ingested data.'),
    flags.DEFINE_bool('enable_cache', True, 'Reuse the outputs of unchanged components.'),
)


def pipeline_kwargs():
  """create_pipeline() keyword arguments from the parsed flags."""
  return {holder.name: holder.value for holder in PIPELINE_FLAGS}


def check_values():
  """Raises ValueError naming the first out-of-range flag: '--epochs must be ...'.

  Each component's rule raises a message that begins with its parameter's
  name, which is the flag's name.
  """
  values = pipeline_kwargs()
  try:
    spans.validate_num_spans(values['spans'])
    for name in ('train_examples', 'eval_examples'):
      if values[name] < 0:
        raise ValueError(f'{name} must be an integer >= 0 (0 = all), got {values[name]}')
    noise.validate_noise_params(values['noise_factor'], values['seed'])
    hparams.validate_training_params(
        values['model'], values['epochs'], values['batch_size'], values['learning_rate'])
    gates.validate_thresholds(values['min_psnr_gain_db'], values['min_ssim'],
                              values['max_psnr_drop_db'], values['max_ssim_drop'])
    gates.check_gates_can_pass(values['noise_factor'])
  except ValueError as e:
    raise ValueError(f'--{e}') from None
