"""The data contract: image size, classes, splits, feature keys and parse specs, signature and metric names.

Everything below the runners agrees on these names through this module, as
the taxi template's models/features.py: ingestion writes the ingested
features, the NoiseAugmenter the augmented ones, the Trainer, the Evaluator
and the report read them. TensorFlow is imported by the parse specs alone:
the runners check their flags with this module before importing it.
"""
IMAGE_SIZE = 28
IMAGE_PIXELS = IMAGE_SIZE * IMAGE_SIZE
IMAGE_SHAPE = (IMAGE_SIZE, IMAGE_SIZE, 1)
NUM_CLASSES = 10
CLASS_NAMES = ('T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat',
               'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot')

TRAIN_SPLIT = 'train'
EVAL_SPLIT = 'eval'
SPLITS = (TRAIN_SPLIT, EVAL_SPLIT)

# Ingested examples (FashionMnistExampleGen output).
IMAGE_KEY = 'image'          # int64 x 784, pixel values 0..255
LABEL_KEY = 'label'          # int64, clothing class 0..9
ID_KEY = 'example_id'        # bytes, '<split>-<index>': stable, seeds the noise
# Noise-augmented examples (NoiseAugmenter output): LABEL_KEY and ID_KEY plus
CLEAN_KEY = 'clean'          # float32 x 784 in [0, 1]: the training target
NOISY_KEY = 'noisy'          # float32 x 784 in [0, 1]: the model input



def ingested_feature_spec():
  """tf.io.parse_example spec of the ingested examples."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  return {
      IMAGE_KEY: tf.io.FixedLenFeature([IMAGE_PIXELS], tf.int64),
      LABEL_KEY: tf.io.FixedLenFeature([], tf.int64),
      ID_KEY: tf.io.FixedLenFeature([], tf.string),
  }


def augmented_feature_spec(*keys):
  """tf.io.parse_example spec of the augmented examples: all features, or those named."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  spec = {
      CLEAN_KEY: tf.io.FixedLenFeature([IMAGE_PIXELS], tf.float32),
      NOISY_KEY: tf.io.FixedLenFeature([IMAGE_PIXELS], tf.float32),
      LABEL_KEY: tf.io.FixedLenFeature([], tf.int64),
      ID_KEY: tf.io.FixedLenFeature([], tf.string),
  }
  return {key: spec[key] for key in keys} if keys else spec


# The exported SavedModel.
SERVING_INPUT_KEY = 'images'             # serving_default input
SERVING_OUTPUT_KEY = 'denoised'          # serving_default output
SERVING_SIGNATURE = 'serving_default'
# The Evaluator's signature: it takes the examples' NOISY_KEY feature, which
# TFMA parses and passes by name. (Given serialized tf.Examples, TFMA first
# calls a signature positionally, which fails and formats the whole batch
# into the error message: 3 s of a 20 s evaluation. Models exported before
# 2026-11-27 take `serialized_examples` under the same name, and TFMA feeds
# those still: a baseline deployed earlier is evaluated as before.)
EXAMPLES_SIGNATURE = 'serving_examples'
# Output of the examples signature read by TFMA: channel 0 is the denoised
# image, channel 1 the noisy input, so one metric sees both and the report
# shows the gain over doing nothing.
EVAL_OUTPUT_KEY = 'denoised_and_noisy'

# Names of the TFMA metrics: TFMA names a metric after its class in snake case
# (components/model_code/metrics.py), so these follow the class names.
MSE_METRIC = 'denoised_mse'
PSNR_METRIC = 'denoised_psnr'
SSIM_METRIC = 'denoised_ssim'
NOISY_MSE_METRIC = 'noisy_mse'
NOISY_PSNR_METRIC = 'noisy_psnr'
NOISY_SSIM_METRIC = 'noisy_ssim'
PSNR_GAIN_METRIC = 'psnr_gain'
PSNR_MAX_VALUE = 1.0
