"""The run report: metrics.json, the denoising grid and the robustness sweep, from what the run decided."""
import json
import os
import random

import matplotlib.image
import matplotlib.pyplot as plt
import numpy as np
import pytest
import tensorflow as tf

from components import tfrecord_io
from components.noise.executor import to_noisy_example
from components.report import report
from tests import conftest
from tests.test_metrics import numpy_ssim
from tests.test_noise import reference_noise

SEED = 7
EVAL_IMAGES = 1100   # more than the sweep's 1,000


def fake_serving_fn(images):
  """A stand-in model whose output tells it apart from its input and the clean image."""
  return {'denoised': tf.clip_by_value(0.5 * images + 0.25, 0.0, 1.0)}


def _psnr(clean, image):
  mse = ((clean - image) ** 2).reshape(len(clean), -1).mean(axis=1)
  return float(np.mean(10 * np.log10(1.0 / mse)))


@pytest.fixture(name='eval_data', scope='module')
def fixture_eval_data(tmp_path_factory):
  """(file pattern, clean, noisy at 0.2) of 1,100 eval images written out of order in two files."""
  directory = tmp_path_factory.mktemp('eval')
  images, _ = conftest.make_images(EVAL_IMAGES, 3)
  clean = images.reshape(EVAL_IMAGES, -1).astype(np.float32) / np.float32(255)
  noise = np.stack([reference_noise(SEED, f'eval-{i}'.encode()) for i in range(EVAL_IMAGES)])
  noisy = np.clip(clean + np.float32(0.2) * noise, 0, 1)
  order = list(range(EVAL_IMAGES))
  random.Random(0).shuffle(order)
  for part, indices in enumerate((order[:600], order[600:])):
    records = [to_noisy_example(clean[i], noisy[i], i % 10, f'eval-{i}'.encode()) for i in indices]
    with open(directory / f'part-{part}', 'wb') as f:
      f.write(tfrecord_io.frame_tfrecords(records))
  return str(directory / 'part-*'), clean, noise


# What the Evaluator measured, as eval_config.load_metrics returns it.
CANDIDATE = {'denoised_mse': 0.007, 'denoised_psnr': 21.5, 'denoised_ssim': 0.76,
             'noisy_mse': 0.025, 'noisy_psnr': 16.0, 'noisy_ssim': 0.54, 'psnr_gain': 5.5}
BASELINE = {'denoised_mse': 0.006, 'denoised_psnr': 22.0, 'denoised_ssim': 0.78,
            'noisy_mse': 0.025, 'noisy_psnr': 16.0, 'noisy_ssim': 0.54, 'psnr_gain': 6.0}
REASONS = ['denoised_psnr change vs baseline -0.5000 is below the allowed -0.1000 by 0.4000']


def _write(report_dir, eval_data, deployed_version):
  pattern, _, _ = eval_data
  report.write_report(
      str(report_dir),
      evaluation_metrics={'overall': {'candidate': CANDIDATE, 'baseline': BASELINE},
                          'label=3 (Dress)': {'candidate': CANDIDATE}},
      validation_ok=False, reasons=REASONS, deployed_version=deployed_version, pushed=False,
      push_reason='not blessed: ' + REASONS[0], pushed_model_dir=None,
      serving_fn=fake_serving_fn, eval_file_pattern=pattern, noise_factor=0.2, seed=SEED)
  with open(os.path.join(report_dir, 'metrics.json')) as f:
    return json.load(f)


@pytest.fixture(name='written', scope='module')
def fixture_written(tmp_path_factory, eval_data):
  """(report directory, metrics.json, the grid's figure) of a report against deployed version 1700000000."""
  figures = []
  real_close = plt.close

  def keep_figure(fig=None):
    figures.append(fig)
    real_close(fig)

  plt.close = keep_figure
  try:
    report_dir = tmp_path_factory.mktemp('report')
    metrics = _write(report_dir, eval_data, '1700000000')
  finally:
    plt.close = real_close
  [grid] = [fig for fig in figures if len(fig.axes) == 30]
  return str(report_dir), metrics, grid


def test_metrics_json_holds_model_noisy_input_baseline_and_the_decisions(written):
  _, metrics, _ = written
  assert metrics['model'] == {'mse': 0.007, 'psnr': 21.5, 'ssim': 0.76}
  assert metrics['noisy_input'] == {'mse': 0.025, 'psnr': 16.0, 'ssim': 0.54}
  assert metrics['psnr_gain'] == 5.5
  assert metrics['baseline'] == {'mse': 0.006, 'psnr': 22.0, 'ssim': 0.78}
  assert metrics['baseline_version'] == '1700000000'
  assert metrics['per_class'] == {'label=3 (Dress)': {
      'model': {'mse': 0.007, 'psnr': 21.5, 'ssim': 0.76},
      'noisy_input': {'mse': 0.025, 'psnr': 16.0, 'ssim': 0.54}}}
  assert metrics['blessed'] is False and metrics['reasons'] == REASONS
  assert metrics['pushed'] is False and metrics['pushed_model_dir'] is None
  assert metrics['push_reason'] == 'not blessed: ' + REASONS[0]
  assert metrics['noise_factor'] == 0.2


def test_with_nothing_deployed_there_is_no_baseline(tmp_path, eval_data):
  # The Evaluator compared the candidate with itself: its baseline numbers mean nothing.
  metrics = _write(tmp_path, eval_data, deployed_version='')
  assert metrics['baseline'] is None and metrics['baseline_version'] is None


def test_grid_shows_noisy_denoised_and_clean_of_the_first_ten_eval_images(written, eval_data):
  report_dir, _, grid = written
  _, clean, noise = eval_data
  noisy = np.clip(clean + np.float32(0.2) * noise, 0, 1)
  cells = {}
  for ax in grid.axes:
    spec = ax.get_subplotspec()
    cells[spec.rowspan.start, spec.colspan.start] = ax
  assert sorted(cells) == [(row, col) for row in range(3) for col in range(10)]
  assert [cells[row, 0].get_ylabel() for row in range(3)] == ['noisy input', 'denoised', 'clean']
  for col in range(10):   # eval-0 ... eval-9, whatever the order in the files
    want = {0: noisy[col], 1: np.clip(0.5 * noisy[col] + 0.25, 0, 1), 2: clean[col]}
    for row, image in want.items():
      np.testing.assert_allclose(np.asarray(cells[row, col].images[0].get_array()),
                                 image.reshape(28, 28), atol=1e-6)
  height, width, _ = matplotlib.image.imread(os.path.join(report_dir, 'denoise_grid.png')).shape
  assert width > 2 * height  # ten columns, three rows


def test_robustness_sweep_scales_each_images_own_noise_on_the_first_1000_images(
    written, eval_data):
  report_dir, _, _ = written
  _, clean, noise = eval_data
  with open(os.path.join(report_dir, 'robustness.json')) as f:
    sweep = json.load(f)
  assert [row['noise_factor'] for row in sweep] == [0.1, 0.2, 0.3, 0.4, 0.5]
  first = slice(0, 1000)
  for row in sweep:
    noisy = np.clip(clean[first] + np.float32(row['noise_factor']) * noise[first], 0, 1)
    assert row['images'] == 1000
    assert row['noisy_psnr'] == pytest.approx(_psnr(clean[first], noisy), abs=1e-3)
    assert row['model_psnr'] == pytest.approx(
        _psnr(clean[first], np.clip(0.5 * noisy + 0.25, 0, 1)), abs=1e-3)
    if row['noise_factor'] == 0.3:
      ssim = [numpy_ssim(c.reshape(28, 28), n.reshape(28, 28)) for c, n in zip(clean[first], noisy)]
      assert row['noisy_ssim'] == pytest.approx(np.mean(ssim), abs=1e-3)
  with open(os.path.join(report_dir, 'robustness.png'), 'rb') as f:
    assert f.read(8) == b'\x89PNG\r\n\x1a\n'
