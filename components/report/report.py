"""Pure core of the run report: metrics summary, denoising grid, robustness sweep, HTML page."""
import base64
import html
import io
import json
import os

import matplotlib
matplotlib.use('Agg')
import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
import numpy as np
import tensorflow as tf

from components import features
from components import eval_images
from components.noise import noise

# The robustness sweep: noise factors, on the first eval images (by index) only,
# which keeps the report a small share of a run; the grid shows the first few.
ROBUSTNESS_NOISE_FACTORS = (0.1, 0.2, 0.3, 0.4, 0.5)
ROBUSTNESS_IMAGES = 1000
GRID_IMAGES = 10
HTML_NAME = 'report.html'
_PNG_DPI = 80


def robustness_sweep(serving_fn, clean, ids, seed, noise_factors=ROBUSTNESS_NOISE_FACTORS):
  """PSNR and SSIM of the model and of the noisy input at each noise factor.

  Each image gets its own pipeline noise (same seed and example id), scaled.
  """
  flat = clean.reshape(len(clean), -1)
  unit_noise = noise.draw_noise(seed, list(ids))
  rows = []
  for factor in noise_factors:
    noisy = noise.add_noise(flat, unit_noise, factor).reshape(clean.shape)
    model_m = eval_images.mean_metrics(clean, eval_images.denoise(serving_fn, noisy))
    noisy_m = eval_images.mean_metrics(clean, noisy)
    rows.append({'noise_factor': factor, 'images': len(clean),
                 'model_psnr': model_m['psnr'], 'noisy_psnr': noisy_m['psnr'],
                 'model_ssim': model_m['ssim'], 'noisy_ssim': noisy_m['ssim']})
  return rows


def _png(fig):
  """The figure as PNG bytes; closes it."""
  buffer = io.BytesIO()
  fig.savefig(buffer, format='png', dpi=_PNG_DPI)
  plt.close(fig)
  return buffer.getvalue()


def plot_grid(noisy, denoised, clean):
  """PNG bytes. Rows: noisy input, denoised, clean; one column per image."""
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
  return _png(fig)


def plot_robustness(rows):
  """PNG bytes: mean PSNR of the model and of the noisy input per noise factor."""
  factors = [r['noise_factor'] for r in rows]
  fig, ax = plt.subplots(figsize=(6, 4))
  ax.plot(factors, [r['model_psnr'] for r in rows], 'o-', label='denoised')
  ax.plot(factors, [r['noisy_psnr'] for r in rows], 's--', label='noisy input')
  ax.set_xlabel('noise factor')
  ax.set_ylabel('mean PSNR (dB)')
  ax.grid(True, alpha=0.3)
  ax.legend()
  fig.tight_layout()
  return _png(fig)


def write_bytes(path, data):
  with tf.io.gfile.GFile(path, 'wb') as f:
    f.write(data)


def write_json(path, value):
  with tf.io.gfile.GFile(path, 'w') as f:
    json.dump(value, f, indent=2, sort_keys=True)


def split_metrics(values):
  """A TFMA metrics dict -> (model metrics, noisy-input metrics) with plain keys."""
  keys = eval_images.METRIC_KEYS
  model = {k: values.get(getattr(features, f'{k.upper()}_METRIC')) for k in keys}
  noisy = {k: values.get(getattr(features, f'NOISY_{k.upper()}_METRIC')) for k in keys}
  return model, noisy


def scalar_metrics(summary):
  """The run's numbers, flat: the model's, the noisy input's, the baseline's, gain, decisions.

  What the KFP UI shows of a system.Metrics artifact and compares across runs.
  Metrics are floats; `blessed` and `pushed` are 0 or 1; the baseline's are
  absent while nothing is deployed.
  """
  scalars = {}
  for prefix, metrics in (('', summary['model']), ('noisy_', summary['noisy_input']),
                          ('baseline_', summary['baseline'] or {})):
    scalars.update({prefix + k: float(v) for k, v in metrics.items() if v is not None})
  if summary['psnr_gain'] is not None:
    scalars['psnr_gain'] = float(summary['psnr_gain'])
  scalars['blessed'] = int(summary['blessed'])
  scalars['pushed'] = int(summary['pushed'])
  return scalars


_METRIC_FORMATS = (('psnr', 'PSNR (dB)', '{:.2f}'), ('ssim', 'SSIM', '{:.3f}'),
                   ('mse', 'MSE', '{:.5f}'))
_STYLE = ('body{font-family:sans-serif;margin:1em}table{border-collapse:collapse;margin:.5em 0}'
          'th,td{border:1px solid #ccc;padding:.2em .6em;text-align:right}'
          'th:first-child,td:first-child{text-align:left}img{max-width:100%}'
          '.blessed{color:#1b7a1b}.refused{color:#b3261e}')


def _text(value):
  return html.escape(str(value), quote=True)


def _number(value, fmt):
  return '&ndash;' if value is None else _text(fmt.format(value))


def _table(header, rows):
  """An HTML table; header and rows hold already-escaped cell markup."""
  head = ''.join(f'<th>{cell}</th>' for cell in header)
  body = ''.join('<tr>' + ''.join(f'<td>{cell}</td>' for cell in row) + '</tr>' for row in rows)
  return f'<table><tr>{head}</tr>{body}</table>'


def _png_img(png, alt):
  data = base64.b64encode(png).decode('ascii')
  return f'<img alt="{_text(alt)}" src="data:image/png;base64,{data}">'


def render_html(summary, sweep, grid_png, robustness_png):
  """The report as one self-contained HTML page: every image inline, every text escaped.

  summary is what write_report records in metrics.json, sweep its robustness
  rows; the page needs no other file (the KFP UI shows it in a sandboxed frame).
  """
  metric_header = [_text(title) for _, title, _ in _METRIC_FORMATS]

  def metric_cells(metrics):
    return [_number(metrics.get(key), fmt) for key, _, fmt in _METRIC_FORMATS]

  if summary['blessed']:
    decision = '<p class="blessed"><b>Blessed.</b></p>'
  else:
    decision = ('<p class="refused"><b>Not blessed:</b></p><ul>' +
                ''.join(f'<li>{_text(reason)}</li>' for reason in summary['reasons']) + '</ul>')
  push = (f'Pushed to <code>{_text(summary["pushed_model_dir"])}</code>' if summary['pushed']
          else f'Not pushed: {_text(summary["push_reason"])}')

  overall = [['model', *metric_cells(summary['model'])],
             ['noisy input', *metric_cells(summary['noisy_input'])]]
  if summary['baseline']:
    overall.append([f'deployed model (version {_text(summary["baseline_version"])})',
                    *metric_cells(summary['baseline'])])
  per_class = []
  for name, metrics in sorted(summary['per_class'].items()):
    model, noisy = metrics['model'], metrics['noisy_input']
    gain = (model['psnr'] - noisy['psnr']
            if model.get('psnr') is not None and noisy.get('psnr') is not None else None)
    per_class.append([_text(name), *metric_cells(model), _number(noisy.get('psnr'), '{:.2f}'),
                      _number(gain, '{:+.2f}')])
  robustness = [[_number(row['noise_factor'], '{:.2f}'), _number(row['model_psnr'], '{:.2f}'),
                 _number(row['noisy_psnr'], '{:.2f}'), _number(row['model_ssim'], '{:.3f}'),
                 _number(row['noisy_ssim'], '{:.3f}')] for row in sweep]
  return ''.join([
      '<!DOCTYPE html><html><head><meta charset="utf-8"><title>Denoising report</title>',
      f'<style>{_STYLE}</style></head><body>',
      f'<h1>Denoising report</h1>{decision}<p>{push}</p>',
      f'<h2>Eval split, noise factor {_number(summary["noise_factor"], "{:g}")}</h2>',
      _table(['', *metric_header], overall),
      f'<p>PSNR gain over the noisy input: {_number(summary["psnr_gain"], "{:+.2f}")} dB</p>',
      '<h2>Per class</h2>',
      _table(['class', *metric_header, 'noisy PSNR (dB)', 'gain (dB)'], per_class),
      '<h2>Denoising: noisy input, denoised, clean</h2>',
      _png_img(grid_png, 'noisy input, denoised and clean eval images'),
      f'<h2>Robustness: the first {_text(sweep[0]["images"])} eval images at other noise '
      'factors</h2>',
      _png_img(robustness_png, 'mean PSNR per noise factor'),
      _table(['noise factor', 'model PSNR (dB)', 'noisy PSNR (dB)', 'model SSIM', 'noisy SSIM'],
             robustness),
      '</body></html>\n'])


def write_report(report_dir, *, evaluation_metrics, validation_ok, reasons,
                 deployed_version, pushed, push_reason, pushed_model_dir,
                 serving_fn, eval_file_pattern, noise_factor, seed):
  """Writes metrics.json, denoise_grid.png, robustness.json, robustness.png and report.html.

  Returns the summary recorded in metrics.json.
  """
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

  ids, _, clean, noisy = eval_images.load_eval_images(eval_file_pattern,
                                                      limit=ROBUSTNESS_IMAGES)
  shown = slice(0, GRID_IMAGES)
  grid_png = plot_grid(noisy[shown], eval_images.denoise(serving_fn, noisy[shown]),
                       clean[shown])
  write_bytes(os.path.join(report_dir, 'denoise_grid.png'), grid_png)
  sweep = robustness_sweep(serving_fn, clean, ids, seed)
  write_json(os.path.join(report_dir, 'robustness.json'), sweep)
  robustness_png = plot_robustness(sweep)
  write_bytes(os.path.join(report_dir, 'robustness.png'), robustness_png)
  write_bytes(os.path.join(report_dir, HTML_NAME),
              render_html(summary, sweep, grid_png, robustness_png).encode('utf-8'))
  return summary
