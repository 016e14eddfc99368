"""Pure core of the run report: metrics summary, denoising grid, robustness sweep."""
import json
import os

import matplotlib
matplotlib.use('Agg')
import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
import numpy as np
import tensorflow as tf

from components import features
from components import tfrecord_io
from components.ingestion import idx
from components.model_code import metrics as metrics_lib
from components.noise import noise

METRIC_KEYS = ('mse', 'psnr', 'ssim')
_PREDICT_BATCH = 1000
# The robustness sweep: noise factors, on the first eval images (by index) only,
# which keeps the report a small share of a run; the grid shows the first few.
ROBUSTNESS_NOISE_FACTORS = (0.1, 0.2, 0.3, 0.4, 0.5)
ROBUSTNESS_IMAGES = 1000
GRID_IMAGES = 10


def load_eval_images(file_pattern, limit=None):
  """(ids, labels, clean, noisy) numpy arrays from NoiseAugmenter TFRecords.

  In index order of the IDX file; limit keeps the first images only.
  """
  files = sorted(tf.io.gfile.glob(file_pattern))
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
  return {k: float(np.mean(metrics_lib.PER_IMAGE[k](clean, images))) for k in METRIC_KEYS}


def robustness_sweep(serving_fn, clean, ids, seed, noise_factors=ROBUSTNESS_NOISE_FACTORS):
  """PSNR and SSIM of the model and of the noisy input at each noise factor.

  Each image gets its own pipeline noise (same seed and example id), scaled.
  """
  flat = clean.reshape(len(clean), -1)
  unit_noise = noise.draw_noise(seed, list(ids))
  rows = []
  for factor in noise_factors:
    noisy = noise.add_noise(flat, unit_noise, factor).reshape(clean.shape)
    model_m = mean_metrics(clean, denoise(serving_fn, noisy))
    noisy_m = mean_metrics(clean, noisy)
    rows.append({'noise_factor': factor, 'images': len(clean),
                 'model_psnr': model_m['psnr'], 'noisy_psnr': noisy_m['psnr'],
                 'model_ssim': model_m['ssim'], 'noisy_ssim': noisy_m['ssim']})
  return rows


def plot_grid(path, noisy, denoised, clean):
  """Rows: noisy input, denoised, clean; one column per image."""
  n = len(clean)
  fig, axes = plt.subplots(3, n, figsize=(2 * n, 6.4), squeeze=False)
  for row, (title, images) in enumerate((('noisy input', noisy), ('denoised', denoised),
                                         ('clean', clean))):
    for col in range(n):
      ax = axes[row][col]
      ax.imshow(np.squeeze(images[col]), cmap='gray', vmin=0.0, vmax=1.0)
      ax.set_xticks([])
      ax.set_yticks([])
      if col == 0:
        ax.set_ylabel(title)
  fig.tight_layout()
  fig.savefig(path, dpi=80)
  plt.close(fig)


def plot_robustness(path, rows):
  factors = [r['noise_factor'] for r in rows]
  fig, ax = plt.subplots(figsize=(6, 4))
  ax.plot(factors, [r['model_psnr'] for r in rows], 'o-', label='denoised')
  ax.plot(factors, [r['noisy_psnr'] for r in rows], 's--', label='noisy input')
  ax.set_xlabel('noise factor')
  ax.set_ylabel('mean PSNR (dB)')
  ax.grid(True, alpha=0.3)
  ax.legend()
  fig.tight_layout()
  fig.savefig(path, dpi=80)
  plt.close(fig)


def write_json(path, value):
  with tf.io.gfile.GFile(path, 'w') as f:
    json.dump(value, f, indent=2, sort_keys=True)


def split_metrics(values):
  """A TFMA metrics dict -> (model metrics, noisy-input metrics) with plain keys."""
  model = {k: values.get(getattr(features, f'{k.upper()}_METRIC')) for k in METRIC_KEYS}
  noisy = {k: values.get(getattr(features, f'NOISY_{k.upper()}_METRIC')) for k in METRIC_KEYS}
  return model, noisy


def write_report(report_dir, *, evaluation_metrics, validation_ok, reasons,
                 deployed_version, pushed, push_reason, pushed_model_dir,
                 serving_fn, eval_file_pattern, noise_factor, seed):
  """Writes metrics.json, denoise_grid.png, robustness.json and robustness.png."""
  tf.io.gfile.makedirs(report_dir)
  overall = evaluation_metrics.get('overall', {})
  model_metrics, noisy_metrics = split_metrics(overall.get('candidate', {}))
  baseline_metrics = (split_metrics(overall.get('baseline', {}))[0]
                      if deployed_version else None)
  per_class = {}
  for name, per_model in evaluation_metrics.items():
    if name != 'overall':
      m, n = split_metrics(per_model.get('candidate', {}))
      per_class[name] = {'model': m, 'noisy_input': n}
  summary = {
      'noise_factor': noise_factor,
      'model': model_metrics,
      'noisy_input': noisy_metrics,
      'psnr_gain': overall.get('candidate', {}).get(features.PSNR_GAIN_METRIC),
      'baseline': baseline_metrics,
      'baseline_version': deployed_version or None,
      'per_class': per_class,
      'blessed': validation_ok,
      'reasons': reasons,
      'pushed': pushed,
      'push_reason': push_reason,
      'pushed_model_dir': pushed_model_dir,
  }
  write_json(os.path.join(report_dir, 'metrics.json'), summary)

  ids, _, clean, noisy = load_eval_images(eval_file_pattern, limit=ROBUSTNESS_IMAGES)
  shown = slice(0, GRID_IMAGES)
  plot_grid(os.path.join(report_dir, 'denoise_grid.png'),
            noisy[shown], denoise(serving_fn, noisy[shown]), clean[shown])
  sweep = robustness_sweep(serving_fn, clean, ids, seed)
  write_json(os.path.join(report_dir, 'robustness.json'), sweep)
  plot_robustness(os.path.join(report_dir, 'robustness.png'), sweep)
  return summary
