"""The eval split's images read back from the NoiseAugmenter's examples, and a model's mean metrics on them.

Shared by the report (its grid and robustness sweep) and DeployedModelBaseline
(which scores every deployed version): one home, so that neither depends on
the other's code, and an edit of the report re-runs the report alone.
"""
import numpy as np
import tensorflow as tf

from components import features
from components import tfrecord_io
from components.ingestion import idx
from components.model_code import metrics as metrics_lib

METRIC_KEYS = ('mse', 'psnr', 'ssim')
_PREDICT_BATCH = 1000


def load_eval_images(file_pattern, limit=None):
  """(ids, labels, clean, noisy) numpy arrays from NoiseAugmenter TFRecords.

  In index order of the IDX file; limit keeps the first images only.
  """
  files = tfrecord_io.record_files([file_pattern])
  spec = features.augmented_feature_spec()
  ds = tfrecord_io.tfrecord_dataset(files).batch(4096).map(
      lambda s: tf.io.parse_example(s, spec))
  parts = {k: [] for k in spec}
  for batch in ds:
    for k in spec:
      parts[k].append(batch[k].numpy())
  arrays = {k: np.concatenate(v) for k, v in parts.items()}
  # In file order, so the grid shows the first eval images, as the tutorial does.
  order = np.argsort([idx.example_index(i) for i in arrays[features.ID_KEY]])[:limit]
  shape = (-1, features.IMAGE_SIZE, features.IMAGE_SIZE, 1)
  return (arrays[features.ID_KEY][order], arrays[features.LABEL_KEY][order],
          arrays[features.CLEAN_KEY][order].reshape(shape),
          arrays[features.NOISY_KEY][order].reshape(shape))


def denoise(serving_fn, images):
  """Runs the serving signature in batches."""
  out = [serving_fn(**{features.SERVING_INPUT_KEY: tf.constant(images[i:i + _PREDICT_BATCH])})
         [features.SERVING_OUTPUT_KEY].numpy() for i in range(0, len(images), _PREDICT_BATCH)]
  return np.concatenate(out)


def mean_metrics(clean, images):
  """{'mse', 'psnr', 'ssim'}: means of the Evaluator's own per-image metrics."""
  return {k: float(np.mean(metrics_lib.PER_IMAGE[k](clean, images))) for k in METRIC_KEYS}
