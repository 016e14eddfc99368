"""The one home for every name, default and threshold of the pipeline.

Runners, components, the trainer module, the metrics and the tests import
from here; nothing else defines a feature key or a default.
"""
import os

PIPELINE_NAME = 'denoise-pipeline'

# ---------------------------------------------------------------- the data
IMAGE_SIZE = 28
IMAGE_PIXELS = IMAGE_SIZE * IMAGE_SIZE
NUM_CLASSES = 10
CLASS_NAMES = ('T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat',
               'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot')

TRAIN_SPLIT = 'train'
EVAL_SPLIT = 'eval'
SPLITS = (TRAIN_SPLIT, EVAL_SPLIT)

# Data sources, in the order they are tried (see components/ingestion/idx.py).
DATA_DIR_ENV = 'FASHION_MNIST_DIR'
KERAS_CACHE_DIR = os.path.join('~', '.keras', 'datasets', 'fashion-mnist')
DEBIAN_DATA_DIR = '/usr/share/datasets/fashion-mnist'
DOWNLOAD_BASE_URL = 'https://storage.googleapis.com/tensorflow/tf-keras-datasets/'

# ---------------------------------------------------------------- feature keys
# Ingested examples (ExampleGen output).
IMAGE_KEY = 'image'          # int64 x 784, pixel values 0..255
LABEL_KEY = 'label'          # int64, clothing class 0..9
ID_KEY = 'example_id'        # bytes, '<split>-<index>': stable, seeds the noise
# Noise-augmented examples (NoiseAugmenter output): LABEL_KEY and ID_KEY plus
CLEAN_KEY = 'clean'          # float32 x 784 in [0, 1]: the training target
NOISY_KEY = 'noisy'          # float32 x 784 in [0, 1]: the model input

# ---------------------------------------------------------------- the model
MODEL_NAMES = ('tutorial', 'unet')
SERVING_INPUT_KEY = 'images'           # serving_default input
SERVING_OUTPUT_KEY = 'denoised'        # serving_default output
EXAMPLES_SIGNATURE = 'serving_examples'  # signature on serialized tf.Examples
EXAMPLES_INPUT_KEY = 'serialized_examples'
# Output of the examples signature read by TFMA: channel 0 is the denoised
# image, channel 1 the noisy input, so one metric sees both and the report
# shows the gain over doing nothing.
EVAL_OUTPUT_KEY = 'denoised_and_noisy'

# ---------------------------------------------------------------- defaults
DEFAULT_MODEL = 'tutorial'
DEFAULT_EPOCHS = 10
DEFAULT_BATCH_SIZE = 32
DEFAULT_LEARNING_RATE = 1e-3           # Adam's default, as in the tutorial
DEFAULT_NOISE_FACTOR = 0.2
DEFAULT_SEED = 42
DEFAULT_OUTPUT_DIR = 'tfx_output'
SERVING_DIR_NAME = 'serving_model'
RUN_SUMMARY_NAME = 'run_summary.json'
METADATA_NAME = 'metadata.sqlite'

# ---------------------------------------------------------------- blessing
# Absolute gates on the overall slice, and the change gate against the
# deployed model.
DEFAULT_MIN_PSNR_GAIN_DB = 3.0    # candidate PSNR minus the noisy input's
DEFAULT_MIN_SSIM = 0.65
DEFAULT_MAX_PSNR_DROP_DB = 0.1    # vs the deployed baseline

# ---------------------------------------------------------------- metrics
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

# Robustness sweep of the report.
ROBUSTNESS_NOISE_FACTORS = (0.1, 0.2, 0.3, 0.4, 0.5)
REPORT_GRID_IMAGES = 10
