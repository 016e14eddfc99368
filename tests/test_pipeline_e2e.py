"""The whole local pipeline, run after run: push, cache, refuse, fail."""
import json
import os
import re
import subprocess
import sys

import pytest
import tensorflow as tf

from components import features
from components import serving_dir as serving_dir_lib
from components.report import report
from pipeline import configs
from pipeline import local_run
from tests import conftest
from tests import tfx_helpers
from tests.test_metrics import numpy_metrics

# Small enough for CI, enough steps for the tutorial model to pass the default gates.
TRAINING = dict(epochs=2, batch_size=8, learning_rate=3e-3)
DATA_STAGES = ('FashionMnistExampleGen', 'StatisticsGen', 'SchemaGen', 'ExampleValidator',
               'NoiseAugmenter', 'TrainingHyperparameters', 'Trainer')


def _run(data_dir, output_dir, **overrides):
  """One local run as local_runner.py makes it; returns (summary, lines printed)."""
  pipeline = local_run.create_local_pipeline(
      output_dir, data_dir=data_dir, **dict(TRAINING, **overrides))
  printed = []
  summary = local_run.run(pipeline, output_dir, echo=lambda line, **_: printed.append(line))
  with open(os.path.join(output_dir, configs.RUN_SUMMARY_NAME)) as f:
    assert json.load(f) == json.loads(json.dumps(summary))
  return summary, '\n'.join(printed)


def _states(summary):
  return {c['id']: c['state'] for c in summary['components']}


@pytest.fixture(scope='module')
def runs(tmp_path_factory):
  """Three identical runs, then a candidate that does not denoise."""
  root = tmp_path_factory.mktemp('e2e')
  data_dir = conftest.write_dataset(root / 'data', 1000, 200)
  output_dir = str(root / 'out')
  results = [_run(data_dir, output_dir) for _ in range(3)]
  results.append(_run(data_dir, output_dir, epochs=1, learning_rate=1e-9))
  return output_dir, results


def test_first_run_executes_everything_blesses_and_pushes(runs):
  output_dir, results = runs
  summary, printed = results[0]
  assert summary['status'] == 'succeeded' and summary['error'] is None
  assert set(_states(summary).values()) == {'executed'}
  assert len(summary['components']) == 11
  assert all(c['seconds'] >= 0 for c in summary['components'])
  assert summary['blessed'] and summary['pushed']
  serving_dir = os.path.join(output_dir, configs.SERVING_DIR_NAME)
  [version] = serving_dir_lib.versions(serving_dir)
  assert summary['pushed_model_dir'] == os.path.join(serving_dir, version)
  assert tf.io.gfile.exists(os.path.join(summary['pushed_model_dir'], 'saved_model.pb'))
  assert summary['baseline_metrics'] is None
  metrics = summary['metrics']
  assert metrics['psnr'] > metrics['noisy_psnr'] + configs.DEFAULT_MIN_PSNR_GAIN_DB
  assert '[Trainer] executed in' in printed and 'Blessed.' in printed
  # TensorBoard logs in the ModelRun artifact.
  assert tf.io.gfile.glob(os.path.join(output_dir, 'artifacts', 'Trainer', 'model_run', '*',
                                       '*', 'events.out.tfevents.*'))
  assert f'Pushed to {summary["pushed_model_dir"]}' in printed


def test_reported_metrics_match_numpy_on_the_pushed_model(runs):
  _, results = runs
  summary = results[0][0]
  _, _, clean, noisy = report.load_eval_images(
      os.path.join(summary['report_dir'], '..', '..', '..', 'NoiseAugmenter',
                   'augmented_examples', '*', 'Split-eval', '*'))
  serve = tf.saved_model.load(summary['pushed_model_dir']).signatures['serving_default']
  denoised = report.denoise(serve, noisy)
  want, want_noisy = numpy_metrics(clean[..., 0], denoised[..., 0]), numpy_metrics(
      clean[..., 0], noisy[..., 0])
  for key in ('mse', 'psnr', 'ssim'):
    assert summary['metrics'][key] == pytest.approx(want[key], rel=1e-3)
    assert summary['metrics'][f'noisy_{key}'] == pytest.approx(want_noisy[key], rel=1e-3)


def test_report_holds_metrics_grid_and_robustness_sweep(runs):
  output_dir, results = runs
  report_dir = results[0][0]['report_dir']
  with open(os.path.join(report_dir, 'metrics.json')) as f:
    metrics = json.load(f)
  assert len(metrics['per_class']) == features.NUM_CLASSES
  assert metrics['blessed'] and metrics['pushed']
  with open(os.path.join(report_dir, 'robustness.json')) as f:
    sweep = json.load(f)
  assert [row['noise_factor'] for row in sweep] == list(report.ROBUSTNESS_NOISE_FACTORS)
  noisy_psnr = [row['noisy_psnr'] for row in sweep]
  assert noisy_psnr == sorted(noisy_psnr, reverse=True)  # more noise, lower PSNR
  at_default = sweep[report.ROBUSTNESS_NOISE_FACTORS.index(configs.DEFAULT_NOISE_FACTOR)]
  assert at_default['model_psnr'] == pytest.approx(results[0][0]['metrics']['psnr'], abs=1e-3)
  for image in ('denoise_grid.png', 'robustness.png'):
    with open(os.path.join(report_dir, image), 'rb') as f:
      assert f.read(8) == b'\x89PNG\r\n\x1a\n'
  # The page, named by the summary; the same file at the system.HTML artifact's URI,
  # and the run's numbers on the system.Metrics artifact: what the KFP UI shows.
  summary, printed = results[0]
  assert summary['report_html'] == os.path.join(report_dir, 'report.html')
  assert f'Report: {summary["report_html"]}' in printed
  config = local_run.metadata_config(output_dir)
  pages = [tf.io.gfile.GFile(a.uri).read()
           for a in tfx_helpers.live_artifacts(config, 'system.HTML')]
  assert tf.io.gfile.GFile(summary['report_html']).read() in pages
  scalars = tfx_helpers.live_artifacts(config, 'system.Metrics')
  # ML Metadata's SQLite keeps about 8 significant digits.
  assert summary['metrics']['psnr'] in [pytest.approx(a.custom_properties['psnr'].double_value,
                                                      rel=1e-6) for a in scalars]


def test_second_run_reevaluates_against_the_deployed_model_and_pushes_nothing(runs):
  output_dir, results = runs
  first, second = results[0][0], results[1][0]
  states = _states(second)
  assert all(states[stage] == 'cached' for stage in DATA_STAGES)
  assert states['DeployedModelBaseline'] == 'executed' and states['Evaluator'] == 'executed'
  assert second['blessed'] and not second['pushed']
  assert 'already deployed' in second['push_reason']
  assert second['baseline_metrics']['psnr'] == pytest.approx(first['metrics']['psnr'], abs=1e-4)
  assert len(serving_dir_lib.versions(os.path.join(output_dir, configs.SERVING_DIR_NAME))) == 1


def test_third_run_is_fully_cached(runs):
  _, results = runs
  second, third = results[1][0], results[2][0]
  assert set(_states(third).values()) == {'cached'}
  assert third['metrics'] == second['metrics'] and not third['pushed']


def test_worse_candidate_is_refused_and_serving_dir_untouched(runs):
  output_dir, results = runs
  summary, printed = results[3]
  assert _states(summary)['Trainer'] == 'executed'
  assert _states(summary)['FashionMnistExampleGen'] == 'cached'
  assert summary['status'] == 'succeeded'
  assert not summary['blessed'] and not summary['pushed']
  reasons = ' '.join(summary['reasons'])
  assert 'denoised_psnr change vs baseline' in reasons and 'psnr_gain' in reasons
  assert summary['baseline_metrics']['psnr'] > summary['metrics']['psnr']
  assert 'NOT blessed' in printed
  assert len(serving_dir_lib.versions(os.path.join(output_dir, configs.SERVING_DIR_NAME))) == 1


def test_cli_failure_exits_non_zero_naming_the_component(tmp_path):
  data_dir = conftest.write_dataset(tmp_path / 'data', 64, 32)
  output_dir = tmp_path / 'out'
  result = subprocess.run(
      [sys.executable, 'local_runner.py', f'--data_dir={data_dir}', f'--output_dir={output_dir}',
       '--epochs=1', '--learning_rate=1e10', '--batch_size=8', '--nodata_validation'],
      cwd=conftest.ROOT, capture_output=True, text=True, timeout=600)
  assert result.returncode == 1, result.stderr[-2000:]
  assert 'Run failed.' in result.stdout
  assert 'Trainer failed: NonFiniteLossError: training loss became nan' in result.stdout
  with open(output_dir / configs.RUN_SUMMARY_NAME) as f:
    summary = json.load(f)
  assert summary['status'] == 'failed' and not summary['pushed']
  assert {c['id']: c['state'] for c in summary['components']}['Trainer'] == 'failed'
  # The console names the failed component and the log, which holds the traceback.
  assert re.search(r'^\[Trainer\] failed in \d+\.\d s$', result.stdout, re.MULTILINE)
  assert f'Log: {summary["log_file"]}\n' in result.stdout
  with open(summary['log_file']) as f:
    assert 'Traceback (most recent call last)' in f.read()
  assert not os.path.exists(output_dir / configs.SERVING_DIR_NAME) or not os.listdir(
      output_dir / configs.SERVING_DIR_NAME)
