"""absl flags shared by local_runner.py and kubeflow_runner.py."""
from absl import flags

from pipeline import configs


def define_pipeline_flags():
  """Flags for everything create_pipeline() takes from a user."""
  flags.DEFINE_string('data_dir', None,
                      'Directory of the four Fashion-MNIST IDX files (gzipped or not). '
                      f'Default: ${configs.DATA_DIR_ENV}, the Keras cache, '
                      f'{configs.DEBIAN_DATA_DIR}, else a download into the Keras cache.')
  flags.DEFINE_integer('train_examples', 0, 'Use the first N training images (0 = all 60,000).')
  flags.DEFINE_integer('eval_examples', 0, 'Use the first N eval images (0 = all 10,000).')
  flags.DEFINE_float('noise_factor', configs.DEFAULT_NOISE_FACTOR,
                     'Standard deviation of the Gaussian noise added to [0, 1] images.')
  flags.DEFINE_integer('seed', configs.DEFAULT_SEED,
                       'Seed of the noise (per example id), the training shuffle and the initial weights.')
  flags.DEFINE_enum('model', configs.DEFAULT_MODEL, configs.MODEL_NAMES,
                    "Architecture: the tutorial's autoencoder or a small U-Net.")
  flags.DEFINE_integer('epochs', configs.DEFAULT_EPOCHS, 'Training epochs.')
  flags.DEFINE_integer('batch_size', configs.DEFAULT_BATCH_SIZE,
                       'Training batch size per replica (device).')
  flags.DEFINE_float('learning_rate', configs.DEFAULT_LEARNING_RATE, 'Adam learning rate.')
  flags.DEFINE_bool('mixed_precision', False,
                    'Train in mixed float16 (worthwhile on GPUs with tensor cores).')
  flags.DEFINE_float('min_psnr_gain_db', configs.DEFAULT_MIN_PSNR_GAIN_DB,
                     'Blessing: mean PSNR must beat the noisy input by at least this (dB).')
  flags.DEFINE_float('min_ssim', configs.DEFAULT_MIN_SSIM, 'Blessing: minimum mean SSIM.')
  flags.DEFINE_float('max_psnr_drop_db', configs.DEFAULT_MAX_PSNR_DROP_DB,
                     'Blessing: the candidate may be at most this much worse (dB PSNR) '
                     'than the deployed model.')
  flags.DEFINE_bool('data_validation', True,
                    'Run StatisticsGen, SchemaGen and ExampleValidator on the ingested data.')
  flags.DEFINE_list('beam_pipeline_args', [],
                    'Comma-separated Beam options for the Beam stages, e.g. '
                    '--runner=DataflowRunner,--project=...,--region=...')
  flags.DEFINE_bool('enable_cache', True, 'Reuse the outputs of unchanged components.')


def pipeline_kwargs(flag_values):
  """create_pipeline() keyword arguments from parsed flags."""
  names = ('train_examples', 'eval_examples', 'noise_factor', 'seed', 'model', 'epochs',
           'batch_size', 'learning_rate', 'mixed_precision', 'min_psnr_gain_db',
           'min_ssim', 'max_psnr_drop_db', 'data_validation', 'enable_cache')
  return {name: flag_values[name].value for name in names}
