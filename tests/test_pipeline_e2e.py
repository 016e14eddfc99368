"""The whole pipeline through local_runner.py, run after run in one output directory.

One sequence of runs on tiny data, shared by every test here (CI time): the
first run, two identical re-runs, a failing run, a worse candidate judged at
either side of the PSNR-drop gate, a --noise_factor change, and through the
real command line a run killed in the Trainer and then completed, uncached and
unblessed; then continuous training: a new span, the same data again, the
span rewritten in place, two spans; a U-Net; faulty spans. The data
directory holds span-1/ (then span-2/, span-3/). Runs go through local_runner.main in this process (absl's
flagsaver restores the flags) or through `python local_runner.py`.
"""
import contextlib
import hashlib
import io
import json
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import time

from absl import flags
from absl.testing import flagsaver
from google.protobuf import text_format
import pytest
import tensorflow as tf
from tensorflow_metadata.proto.v0 import anomalies_pb2

import local_runner
from components import eval_images
from components import serving_dir
from components.evaluation import eval_config
from components.ingestion import idx
from components.report import report
from pipeline import container_entrypoint
from pipeline import local_run
from tests import conftest
from tests import tfx_helpers
from tests.test_metrics import numpy_metrics

# Enough steps for the tutorial model to pass the default gates on 1,000 images.
TRAINING = ('--epochs=2', '--batch_size=8', '--learning_rate=3e-3')
# A candidate that does not denoise.
UNTRAINED = ('--epochs=1', '--batch_size=8', '--learning_rate=1e-9')
# Gates only the PSNR-drop gate can fail.
ONLY_THE_DROP_GATE = ('--min_psnr_gain_db=-100', '--min_ssim=-1', '--max_ssim_drop=2')
# Gates only the SSIM gate can fail.
ONLY_THE_SSIM_GATE = ('--min_ssim=0.999', '--min_psnr_gain_db=-100', '--max_psnr_drop_db=100',
                      '--max_ssim_drop=2')

# What checks the data against the deployed model's: it runs again after a push.
DEPLOYED_DATA_CHECKS = ('DeployedStatistics', 'DriftValidator', 'DataGate')
DATA_VALIDATION = ('ImportSchemaGen', 'StatisticsGen', 'ExampleValidator',
                   'SkewValidator') + DEPLOYED_DATA_CHECKS
EVALUATOR_AND_AFTER = ('Evaluator', 'DenoisePusher', 'DenoiseReport')
TRAINER_AND_AFTER = ('Trainer', 'DeployedModelBaseline') + EVALUATOR_AND_AFTER
# A training flag is a TrainingHyperparameters property, read by the Trainer.
TRAINING_FLAG_RERUNS = ('TrainingHyperparameters',) + TRAINER_AND_AFTER
NOISE_AND_AFTER = ('NoiseAugmenter',) + TRAINER_AND_AFTER
EVERY_COMPONENT = (('DataSpans', 'FashionMnistExampleGen', 'TrainingHyperparameters',
                    'WarmStartModel') + DATA_VALIDATION + NOISE_AND_AFTER)
SUMMARY_KEYS = {'status', 'spans', 'warm_started_from', 'blessed', 'pushed', 'reasons', 'push_reason', 'pushed_model_dir',
                'metrics', 'baseline_version', 'baseline_metrics', 'report_dir', 'report_html',
                'tensorboard_logdir', 'components', 'error', 'log_file'}


class Run:
  """One run's exit status, run_summary.json (None if none was written) and printed text."""

  def __init__(self, status, summary, printed):
    self.status, self.summary, self.printed = status, summary, printed

  @property
  def states(self):
    return {c['id']: c['state'] for c in self.summary['components']}

  def executed(self):
    return {c for c, state in self.states.items() if state == 'executed'}


def _summary(output_dir):
  path = os.path.join(output_dir, 'run_summary.json')
  if not os.path.exists(path):
    return None
  with open(path) as f:
    return json.load(f)


def run_main(output_dir, *argv):
  """local_runner.main on a command line, in this process, as app.run calls it."""
  summary_path = os.path.join(output_dir, 'run_summary.json')
  if os.path.exists(summary_path):
    os.remove(summary_path)   # a summary read back is this run's
  printed = io.StringIO()
  with flagsaver.flagsaver(), contextlib.redirect_stdout(printed), \
      contextlib.redirect_stderr(printed):
    try:
      # --verbose: the console is this test's, not diverted into a log file.
      flags.FLAGS(['local_runner.py', '--verbose', f'--output_dir={output_dir}', *argv])
      local_runner.main([])
      status = 0
    except flags.Error as error:   # a flag refused while parsing: app.run exits 1
      print(error)
      status = 1
    except SystemExit as exit_:   # a message is printed (to stderr, captured), status 1
      status = container_entrypoint.exit_status(exit_.code)
  return Run(status, _summary(output_dir), printed.getvalue())


def _cli(output_dir, *argv):
  return [sys.executable, 'local_runner.py', f'--output_dir={output_dir}', *argv]


# The command line's environment: with TF_USE_LEGACY_KERAS=1, which users of
# Keras 2 set and TensorFlow Transform sets on import (so every process a run
# starts inherits it); the Evaluator must not depend on it.
CLI_ENV = dict(os.environ, TF_USE_LEGACY_KERAS='1')


def run_cli(output_dir, *argv):
  """`python local_runner.py ...` in a process of its own."""
  summary_path = os.path.join(output_dir, 'run_summary.json')
  if os.path.exists(summary_path):
    os.remove(summary_path)
  result = subprocess.run(_cli(output_dir, *argv), cwd=conftest.ROOT, env=CLI_ENV,
                          capture_output=True, text=True, timeout=900)
  return Run(result.returncode, _summary(output_dir), result.stdout + result.stderr)


def kill_once_the_trainer_runs(output_dir, *argv):
  """Starts `python local_runner.py ...` and SIGKILLs it once the Trainer executes."""
  os.remove(os.path.join(output_dir, 'run_summary.json'))
  trainer_outputs = os.path.join(output_dir, 'artifacts', 'Trainer', 'model')
  before = set(os.listdir(trainer_outputs))
  with open(os.path.join(output_dir, 'killed_run.log'), 'w') as log:
    process = subprocess.Popen(_cli(output_dir, *argv), cwd=conftest.ROOT, env=CLI_ENV,
                               stdout=log, stderr=subprocess.STDOUT)
    try:
      deadline = time.monotonic() + 900
      # TFX makes an execution's output directories just before its executor runs.
      while set(os.listdir(trainer_outputs)) == before:
        assert process.poll() is None, 'the run ended before its Trainer started'
        assert time.monotonic() < deadline, 'the Trainer did not start'
        time.sleep(0.2)
      time.sleep(1.0)   # into training
    finally:
      process.send_signal(signal.SIGKILL)
      process.wait()
  return process.returncode


def _version_bytes(version_dir):
  """{relative path: SHA-256} of every file of a deployed version."""
  digests = {}
  for parent, _, names in os.walk(version_dir):
    for name in names:
      with open(os.path.join(parent, name), 'rb') as f:
        digests[os.path.relpath(os.path.join(parent, name), version_dir)] = (
            hashlib.sha256(f.read()).hexdigest())
  return digests


def _exported_models(output_dir):
  """(Model artifacts published in ML Metadata, SavedModels the Trainer wrote)."""
  published = tfx_helpers.live_artifacts(local_run.metadata_config(output_dir), 'Model')
  return ({a.uri for a in published if '/Trainer/' in a.uri},
          set(tf.io.gfile.glob(os.path.join(output_dir, 'artifacts', 'Trainer', 'model', '*',
                                            'Format-Serving', 'saved_model.pb'))))


def _versions(output_dir):
  serving_dir = os.path.join(output_dir, 'serving_model')
  return sorted(n for n in os.listdir(serving_dir) if n.isdigit())


@pytest.fixture(scope='module')
def runs(tmp_path_factory):
  """The sequence of runs; the facts each test needs, gathered as they happen."""
  root = tmp_path_factory.mktemp('e2e')
  data_dir = root / 'data'
  conftest.write_dataset(data_dir / 'span-1', 1000, 200, seed=1)
  data = f'--data_dir={data_dir}'
  out = str(root / 'out')
  r = {'output_dir': out}
  r['first'] = run_main(out, data, *TRAINING)
  [r['v1']] = _versions(out)
  r['v1 bytes'] = _version_bytes(os.path.join(out, 'serving_model', r['v1']))
  r['second'] = run_main(out, data, *TRAINING)
  r['third'] = run_main(out, data, *TRAINING)
  r['models before nan'] = _exported_models(out)
  r['nan'] = run_cli(out, data, '--epochs=1', '--batch_size=8', '--learning_rate=1e10',
                     '--nodata_validation')
  r['models after nan'] = _exported_models(out)
  r['versions after nan'] = _versions(out)
  r['untrained'] = run_main(out, data, *UNTRAINED)
  summary = r['untrained'].summary
  drop = summary['baseline_metrics']['psnr'] - summary['metrics']['psnr']
  r['drop'] = drop
  for name, max_drop in (('drop 0.01 dB beyond the allowed', drop - 0.01),
                         ('drop 0.01 dB within the allowed', drop + 0.01)):
    r[name] = run_main(out, data, *UNTRAINED, *ONLY_THE_DROP_GATE,
                       f'--max_psnr_drop_db={max_drop}')
  # The first run's training flags: only the noise changes.
  r['noise 0.3'] = run_main(out, data, '--noise_factor=0.3', *TRAINING)
  killed_command = (data, '--epochs=1', '--batch_size=8', '--learning_rate=2e-3',
                    '--enable_cache=false', *ONLY_THE_SSIM_GATE)
  r['versions before kill'] = _versions(out)
  r['kill status'] = kill_once_the_trainer_runs(out, *killed_command)
  r['summary after kill'] = _summary(out)
  r['after kill'] = run_cli(out, *killed_command)
  r['versions at the end'] = _versions(out)
  # New data: span 2 trains from what serves; with a learning rate that
  # changes nothing, the candidate is what serves.
  untrained = (*UNTRAINED, *ONLY_THE_DROP_GATE, '--max_psnr_drop_db=100')
  conftest.write_dataset(data_dir / 'span-2', 1000, 200, seed=2)
  r['deployed before span 2'] = _versions(out)[-1]
  r['span 2'] = run_main(out, data, *untrained)
  r['span 2 examples'] = _newest_examples(out)
  r['span 2 again'] = run_main(out, data, *untrained)
  r['deployed before rewrite'] = _versions(out)[-1]
  _rewrite_in_place(data_dir / 'span-2' / 'train-images-idx3-ubyte.gz', seed=3)
  r['span 2 rewritten'] = run_main(out, data, *untrained)
  r['spans 1 and 2'] = run_main(out, data, '--spans=2', *untrained)
  r['spans 1 and 2 examples'] = _newest_examples(out)
  # The other architecture, judged against the deployed tutorial model.
  r['versions before unet'] = _versions(out)
  unet = ('--model=unet', *TRAINING, *ONLY_THE_DROP_GATE, '--max_psnr_drop_db=100')
  r['unet log'] = []
  with _logged(r['unet log']):
    r['unet'] = run_main(out, data, *unet)
  # Again, for the deployed data's checks to see the U-Net's push; then that
  # run's baseline, older than the U-Net, deleted by hand: the same candidate
  # is judged again, against what is still deployed. (Put back afterwards:
  # the first run's tests read its version.)
  r['unet again'] = run_main(out, data, *unet)
  r['deleted by hand'] = r['unet'].summary['baseline_version']
  version_dir = os.path.join(out, 'serving_model', r['deleted by hand'])
  shutil.move(version_dir, root / 'deleted')
  r['after a deletion'] = run_main(out, data, *unet)
  r['versions after a deletion'] = _versions(out)
  shutil.move(root / 'deleted', version_dir)
  # Broken exports of a new span, each checked against the deployed model's data.
  r['versions before faults'] = _versions(out)
  for fault in conftest.FAULTS:
    conftest.write_faulty_span(data_dir / 'span-3', fault)
    r[fault] = run_main(out, data, *untrained)
  r['versions after faults'] = _versions(out)
  return r


@contextlib.contextmanager
def _logged(messages):
  """Appends to messages what Python's logging (absl's included) emits meanwhile."""
  handler = logging.Handler(logging.INFO)
  handler.emit = lambda record: messages.append(record.getMessage())
  logging.getLogger().addHandler(handler)
  try:
    yield
  finally:
    logging.getLogger().removeHandler(handler)


def _newest_examples(output_dir):
  """The newest Examples FashionMnistExampleGen published: (properties, train example ids)."""
  config = local_run.metadata_config(output_dir)
  examples = max((a for a in tfx_helpers.live_artifacts(config, 'Examples')
                  if '/FashionMnistExampleGen/' in a.uri), key=lambda a: a.id)
  properties = {key: getattr(value, value.WhichOneof('value'))
                for key, value in examples.custom_properties.items()}
  properties['span'] = examples.properties['span'].int_value
  files = tf.io.gfile.glob(os.path.join(examples.uri, 'Split-train', '*'))
  ids = [tf.train.Example.FromString(record.numpy()).features.feature[
      'example_id'].bytes_list.value[0].decode() for record in tf.data.TFRecordDataset(files)]
  return properties, ids


def _rewrite_in_place(path, seed):
  """Other images in the same file, its modification time kept (as `cp -p` would)."""
  times = os.stat(path)
  images, _ = conftest.make_images(1000, seed)
  idx.write_idx(str(path), images)
  os.utime(path, ns=(times.st_atime_ns, times.st_mtime_ns))


# ---------------------------------------------------------------- first run

def test_first_run_executes_everything_blesses_and_pushes(runs):
  first = runs['first']
  assert first.status == 0
  assert first.summary['status'] == 'succeeded' and first.summary['error'] is None
  assert len(first.summary['components']) == len(EVERY_COMPONENT)
  assert first.executed() == set(EVERY_COMPONENT)
  assert first.summary['blessed'] and first.summary['pushed']
  assert first.summary['push_reason'] == 'blessed'
  assert first.summary['pushed_model_dir'] == os.path.join(
      runs['output_dir'], 'serving_model', runs['v1'])
  assert tf.io.gfile.exists(os.path.join(first.summary['pushed_model_dir'], 'saved_model.pb'))
  # Nothing deployed before: judged by the absolute gates alone.
  assert first.summary['baseline_version'] is None and first.summary['baseline_metrics'] is None
  assert first.summary['reasons'] == []
  metrics = first.summary['metrics']
  assert metrics['psnr'] > metrics['noisy_psnr'] + 3.0 and metrics['ssim'] >= 0.65
  # The latest span; nothing deployed to start from.
  assert first.summary['spans'] == [1] and first.summary['warm_started_from'] is None
  assert 'Trained on span 1, from initial weights' in first.printed
  assert f'on {runs["output_dir"][:-len("out")]}data, span 1: ' in first.printed


def test_run_summary_has_the_documented_keys_and_components_in_run_order(runs):
  summary = runs['first'].summary
  assert set(summary) == SUMMARY_KEYS
  assert set(summary['metrics']) == {'psnr', 'ssim', 'mse', 'noisy_psnr', 'noisy_ssim',
                                     'noisy_mse'}
  order = [c['id'] for c in summary['components']]
  assert sorted(order) == sorted(EVERY_COMPONENT)
  for upstream, downstream in (('DataSpans', 'FashionMnistExampleGen'),
                               ('DataSpans', 'WarmStartModel'), ('WarmStartModel', 'Trainer'),
                               ('FashionMnistExampleGen', 'StatisticsGen'),
                               ('ImportSchemaGen', 'StatisticsGen'),
                               ('StatisticsGen', 'ExampleValidator'),
                               ('StatisticsGen', 'DeployedStatistics'),
                               ('DeployedStatistics', 'DriftValidator'),
                               ('DriftValidator', 'DataGate'), ('SkewValidator', 'DataGate'),
                               ('ExampleValidator', 'DataGate'), ('DataGate', 'NoiseAugmenter'),
                               ('FashionMnistExampleGen', 'NoiseAugmenter'),
                               ('NoiseAugmenter', 'Trainer'), ('TrainingHyperparameters', 'Trainer'),
                               ('Trainer', 'DeployedModelBaseline'),
                               ('DeployedModelBaseline', 'Evaluator'),
                               ('Evaluator', 'DenoisePusher'), ('DenoisePusher', 'DenoiseReport')):
    assert order.index(upstream) < order.index(downstream)
  for component in summary['components']:
    assert set(component) == {'id', 'state', 'seconds'}
    assert isinstance(component['seconds'], float) and component['seconds'] >= 0
  # This run's report, one of the DenoiseReport artifacts.
  assert summary['report_dir'].startswith(
      os.path.join(runs['output_dir'], 'artifacts', 'DenoiseReport', 'report', ''))


def test_training_logs_for_tensorboard_are_in_the_model_run(runs):
  assert tf.io.gfile.glob(os.path.join(runs['output_dir'], 'artifacts', 'Trainer', 'model_run',
                                       '*', '*', 'events.out.tfevents.*'))


def test_data_validation_checks_both_splits_against_the_curated_schema(runs):
  first_execution = min(tf.io.gfile.glob(os.path.join(
      runs['output_dir'], 'artifacts', 'ExampleValidator', 'anomalies', '*')),
                        key=lambda d: int(os.path.basename(d)))
  for split in ('train', 'eval'):
    with open(os.path.join(first_execution, f'Split-{split}', 'SchemaDiff.pb'), 'rb') as f:
      anomalies = anomalies_pb2.Anomalies.FromString(f.read())
    # The repository's schema, not one inferred from this data.
    label = {feature.name: feature for feature in anomalies.baseline.feature}['label']
    assert (label.int_domain.min, label.int_domain.max) == (0, 9)
    assert label.int_domain.is_categorical
    assert not anomalies.anomaly_info, text_format.MessageToString(anomalies)
  assert runs['first'].states['DataGate'] == 'executed'


def test_reported_metrics_match_numpy_on_the_pushed_model(runs):
  summary = runs['first'].summary
  executions = os.path.join(runs['output_dir'], 'artifacts', 'NoiseAugmenter',
                            'augmented_examples')
  first_execution = min(os.listdir(executions), key=int)
  _, _, clean, noisy = eval_images.load_eval_images(
      os.path.join(executions, first_execution, 'Split-eval', '*'))
  assert len(clean) == 200
  serve = tf.saved_model.load(summary['pushed_model_dir']).signatures['serving_default']
  denoised = eval_images.denoise(serve, noisy)
  want = numpy_metrics(clean[..., 0], denoised[..., 0])
  want_noisy = numpy_metrics(clean[..., 0], noisy[..., 0])
  for key in ('mse', 'psnr', 'ssim'):
    assert summary['metrics'][key] == pytest.approx(want[key], rel=1e-3)
    assert summary['metrics'][f'noisy_{key}'] == pytest.approx(want_noisy[key], rel=1e-3)


def test_report_holds_metrics_grid_and_robustness_sweep(runs):
  summary = runs['first'].summary
  with open(os.path.join(summary['report_dir'], 'metrics.json')) as f:
    metrics = json.load(f)
  assert len(metrics['per_class']) == 10
  assert metrics['blessed'] and metrics['pushed']
  assert metrics['model']['psnr'] == summary['metrics']['psnr']
  with open(os.path.join(summary['report_dir'], 'robustness.json')) as f:
    sweep = json.load(f)
  assert [row['noise_factor'] for row in sweep] == [0.1, 0.2, 0.3, 0.4, 0.5]
  assert {row['images'] for row in sweep} == {200}   # every eval image: fewer than 1,000
  # At the run's own noise factor the sweep sees what the Evaluator saw.
  assert sweep[1]['model_psnr'] == pytest.approx(summary['metrics']['psnr'], abs=1e-3)
  noisy_psnr = [row['noisy_psnr'] for row in sweep]
  assert noisy_psnr == sorted(noisy_psnr, reverse=True)   # more noise, lower PSNR
  for image in ('denoise_grid.png', 'robustness.png'):
    with open(os.path.join(summary['report_dir'], image), 'rb') as f:
      assert f.read(8) == b'\x89PNG\r\n\x1a\n'
  # The page, named by the summary and on the console; the same file at the
  # system.HTML artifact's URI, and the run's numbers on the system.Metrics
  # artifact: what the KFP UI shows.
  assert summary['report_html'] == os.path.join(summary['report_dir'], 'report.html')
  assert f'Report: {summary["report_html"]}' in runs['first'].printed
  config = local_run.metadata_config(runs['output_dir'])
  pages = [tf.io.gfile.GFile(a.uri).read()
           for a in tfx_helpers.live_artifacts(config, 'system.HTML')]
  assert tf.io.gfile.GFile(summary['report_html']).read() in pages
  scalars = tfx_helpers.live_artifacts(config, 'system.Metrics')
  # ML Metadata's SQLite keeps about 8 significant digits.
  assert summary['metrics']['psnr'] in [
      pytest.approx(a.custom_properties['psnr'].double_value, rel=1e-6) for a in scalars]


# ---------------------------------------------------------------- identical re-runs

def test_second_run_reevaluates_against_the_deployed_model_and_pushes_nothing(runs):
  first, second = runs['first'].summary, runs['second']
  assert second.status == 0
  assert second.executed() == ({'DeployedModelBaseline'} | set(DEPLOYED_DATA_CHECKS)
                               | set(EVALUATOR_AND_AFTER))
  assert second.summary['blessed'] and not second.summary['pushed']
  assert second.summary['push_reason'] == (
      f'already deployed as version {runs["v1"]}: not pushed again')
  assert second.summary['pushed_model_dir'] is None
  assert second.summary['baseline_version'] == runs['v1']
  assert second.summary['baseline_metrics'] == pytest.approx(
      {k: first['metrics'][k] for k in ('psnr', 'ssim', 'mse')}, abs=1e-4)


def _evaluation_metrics(output_dir):
  """The overall slice's {model: {metric: value}} of every Evaluator execution, in run order."""
  executions = os.path.join(output_dir, 'artifacts', 'Evaluator', 'evaluation')
  return [eval_config.load_metrics(os.path.join(executions, e))['overall']
          for e in sorted(os.listdir(executions), key=int)]


def test_the_candidate_is_evaluated_once_and_the_data_alone_metrics_once_per_run(runs):
  first, second = _evaluation_metrics(runs['output_dir'])[:2]
  denoised = {'denoised_mse', 'denoised_psnr', 'denoised_ssim'}
  everything = denoised | {'noisy_mse', 'noisy_psnr', 'noisy_ssim', 'psnr_gain'}
  # Nothing deployed yet: the candidate alone, not also as its own baseline.
  assert set(first) == {'candidate'} and set(first['candidate']) == everything
  # Against the deployed model: its denoised metrics, not the noisy input's again.
  assert set(second) == {'candidate', 'baseline', 'diff'}
  assert set(second['candidate']) == everything and set(second['baseline']) == denoised


def test_third_run_is_fully_cached(runs):
  second, third = runs['second'].summary, runs['third']
  assert third.status == 0
  assert third.executed() == set() and set(third.states.values()) == {'cached'}
  assert len(third.states) == len(EVERY_COMPONENT)
  assert third.summary['metrics'] == second['metrics'] and not third.summary['pushed']


# ---------------------------------------------------------------- a failing run

def test_failed_component_exits_1_and_is_named_in_summary_and_output(runs):
  nan = runs['nan']
  assert nan.status == 1
  assert nan.summary['status'] == 'failed'
  assert nan.summary['error'].startswith(
      'Trainer failed: NonFiniteLossError: training loss became nan')
  assert 'lower --learning_rate' in nan.summary['error']
  assert nan.states['Trainer'] == 'failed'
  # The console names the failed component and the log, which holds the traceback.
  assert re.search(r'^\[Trainer\] failed in \d+\.\d s$', nan.printed, re.MULTILINE), nan.printed
  assert f'Error: {nan.summary["error"]}' in nan.printed
  assert f'Log: {nan.summary["log_file"]}\n' in nan.printed
  with open(nan.summary['log_file']) as f:
    assert 'Traceback (most recent call last)' in f.read()
  assert not nan.summary['pushed'] and not nan.summary['blessed']
  # Nothing exported, published or deployed.
  published, written = runs['models before nan']
  assert len(published) == 1 and len(written) == 1   # the first run's model
  assert runs['models after nan'] == runs['models before nan']
  assert runs['versions after nan'] == [runs['v1']]


def test_nodata_validation_leaves_out_the_three_validation_components(runs):
  states = runs['nan'].states
  assert not set(DATA_VALIDATION) & set(states)
  # The start line says so.
  assert '(tutorial model, 1 epoch, no data validation) on ' in runs['nan'].printed
  assert 'no data validation' not in runs['first'].printed
  # Only training flags changed: ingestion and noise come from the cache.
  assert states['FashionMnistExampleGen'] == 'cached' and states['NoiseAugmenter'] == 'cached'


# ---------------------------------------------------------------- changed flags

def test_a_training_flag_reruns_the_trainer_and_after_it(runs):
  untrained = runs['untrained']
  assert untrained.executed() == set(TRAINING_FLAG_RERUNS)


def test_worse_candidate_is_refused_exits_0_and_leaves_the_deployed_version(runs):
  untrained = runs['untrained']
  assert untrained.status == 0 and untrained.summary['status'] == 'succeeded'
  assert not untrained.summary['blessed'] and not untrained.summary['pushed']
  reasons = ' '.join(untrained.summary['reasons'])
  assert 'denoised_psnr change vs baseline' in reasons and 'psnr_gain' in reasons
  assert untrained.summary['push_reason'].startswith('not blessed: ')
  assert untrained.summary['baseline_version'] == runs['v1']
  assert runs['drop'] > 1.0


def test_a_gate_flag_reruns_only_the_evaluator_and_after_it(runs):
  for name in ('drop 0.01 dB beyond the allowed', 'drop 0.01 dB within the allowed'):
    assert runs[name].executed() == set(EVALUATOR_AND_AFTER), name


def test_psnr_drop_gate_refuses_a_drop_just_beyond_the_allowed_one(runs):
  refused = runs['drop 0.01 dB beyond the allowed'].summary
  assert not refused['blessed'] and not refused['pushed']
  [reason] = refused['reasons']
  allowed = -(runs['drop'] - 0.01)
  match = re.fullmatch(
      r'denoised_psnr change vs baseline (\S+) is below the allowed (\S+) by (\S+)', reason)
  assert match, reason
  change, threshold, margin = (float(g) for g in match.groups())
  assert change == pytest.approx(-runs['drop'], abs=1e-3)
  assert threshold == pytest.approx(allowed, abs=1e-4)
  assert margin == pytest.approx(0.01, abs=1e-3)


def test_psnr_drop_gate_blesses_a_drop_just_within_the_allowed_one(runs):
  blessed = runs['drop 0.01 dB within the allowed'].summary
  assert blessed['blessed'] and blessed['reasons'] == []
  assert blessed['pushed'] and blessed['push_reason'] == 'blessed'
  assert os.path.basename(blessed['pushed_model_dir']) == runs['versions at the end'][1]


def test_a_deployed_version_is_left_byte_for_byte_unchanged_by_later_pushes(runs):
  assert len(runs['versions at the end']) >= 2 and runs['versions at the end'][0] == runs['v1']
  assert _version_bytes(os.path.join(runs['output_dir'], 'serving_model', runs['v1'])) == (
      runs['v1 bytes'])
  assert 'saved_model.pb' in runs['v1 bytes']


def test_noise_factor_reruns_the_noise_augmenter_and_after_it(runs):
  noise = runs['noise 0.3']
  assert noise.status == 0
  # The run before pushed: the drift baseline changed too.
  assert noise.executed() == set(NOISE_AND_AFTER) | set(DEPLOYED_DATA_CHECKS)
  with open(os.path.join(noise.summary['report_dir'], 'metrics.json')) as f:
    assert json.load(f)['noise_factor'] == 0.3
  assert noise.summary['metrics']['noisy_psnr'] < (
      runs['first'].summary['metrics']['noisy_psnr'] - 2.0)


# ---------------------------------------------------------------- the command line

def test_a_run_killed_in_the_trainer_completes_on_the_next_call(runs):
  assert runs['kill status'] == -signal.SIGKILL
  assert runs['summary after kill'] is None
  after = runs['after kill']
  assert after.summary['status'] == 'succeeded', after.printed[-3000:]
  assert after.summary['error'] is None


def test_enable_cache_false_executes_every_component(runs):
  assert runs['after kill'].executed() == set(EVERY_COMPONENT)


def test_cli_exits_0_for_a_completed_run_that_the_ssim_gate_refuses(runs):
  after = runs['after kill']
  assert after.status == 0, after.printed[-3000:]
  assert after.summary['status'] == 'succeeded'
  assert not after.summary['blessed'] and not after.summary['pushed']
  [reason] = after.summary['reasons']
  assert reason.startswith('denoised_ssim ') and 'below the threshold 0.9990' in reason
  assert runs['versions at the end'] == runs['versions before kill']


@pytest.mark.parametrize('flag, value', [
    ('noise_factor', '-0.1'), ('noise_factor', 'nan'), ('noise_factor', '0'), ('seed', '-1'),
    ('epochs', '0'), ('spans', '0'), ('max_ssim_drop', '-1'),
    ('batch_size', '0'), ('learning_rate', '0'), ('learning_rate', 'inf'),
    ('min_ssim', '1.5'), ('min_psnr_gain_db', 'nan'), ('max_psnr_drop_db', '-0.5'),
    ('train_examples', '-1'), ('eval_examples', '-1'), ('model', 'resnet'),
])
def test_out_of_range_flags_are_refused_before_anything_runs(tmp_path, flag, value):
  data_dir = conftest.write_dataset(tmp_path / 'data', 8, 4)
  output_dir = str(tmp_path / 'out')
  run = run_main(output_dir, f'--data_dir={data_dir}', f'--{flag}={value}')
  assert run.status != 0 and run.summary is None
  assert flag in run.printed, run.printed
  _assert_nothing_ran(output_dir)


def _assert_nothing_ran(output_dir):
  for made_by_a_run in ('metadata.sqlite', 'artifacts', 'serving_model', 'run_summary.json'):
    assert not os.path.exists(os.path.join(output_dir, made_by_a_run))


def test_cli_refuses_an_out_of_range_flag_naming_it(tmp_path):
  data_dir = conftest.write_dataset(tmp_path / 'data', 8, 4)
  output_dir = str(tmp_path / 'out')
  run = run_cli(output_dir, f'--data_dir={data_dir}', '--noise_factor=-0.1')
  assert run.status == 2 and run.summary is None
  assert 'noise_factor' in run.printed, run.printed[-2000:]
  _assert_nothing_ran(output_dir)


# ---------------------------------------------------------------- continuous training

INGESTION_NOISE_TRAINING = {'FashionMnistExampleGen', 'NoiseAugmenter', 'Trainer'}


def test_a_new_span_alone_is_ingested_and_trained_from_the_deployed_weights(runs):
  run = runs['span 2']
  assert run.status == 0 and run.summary['status'] == 'succeeded'
  assert INGESTION_NOISE_TRAINING <= run.executed()
  assert run.summary['spans'] == [2]
  properties, ids = runs['span 2 examples']
  assert (properties['span'], properties['span_numbers']) == (2, '2')
  assert properties['train_examples'] == 1000 and len(ids) == 1000
  assert all(i.startswith('span-2/train-') for i in ids)
  deployed = runs['deployed before span 2']
  assert run.summary['warm_started_from'] == deployed
  assert f'Trained on span 2, from deployed version {deployed}' in run.printed
  # Learning rate 1e-9 from the deployed weights: the candidate is the model
  # that serves (a cold start would be another model altogether).
  assert run.summary['pushed']
  images = tf.random.stateless_uniform([16, 28, 28, 1], seed=[1, 2])
  served, candidate = (
      tf.saved_model.load(path).signatures['serving_default'](images=images)['denoised']
      for path in (os.path.join(runs['output_dir'], 'serving_model', deployed),
                   run.summary['pushed_model_dir']))
  assert float(tf.reduce_max(tf.abs(served - candidate))) < 1e-4
  # What it learnt is recorded with the version it pushed.
  record = serving_dir.read_push_metadata(run.summary['pushed_model_dir'])
  assert {k: record[k] for k in ('model', 'span_numbers', 'warm_started_from')} == {
      'model': 'tutorial', 'span_numbers': [2], 'warm_started_from': deployed}
  assert record['input_fingerprint'] == properties['input_fingerprint']
  assert record['input_fingerprint'].startswith('sha256:')


def test_the_same_data_again_ingests_and_trains_nothing_right_after_a_push(runs):
  again = runs['span 2 again']
  assert again.status == 0
  assert not INGESTION_NOISE_TRAINING & again.executed()
  assert again.states['DataSpans'] == 'cached'
  assert again.summary['spans'] == [2]
  assert again.summary['warm_started_from'] == runs['deployed before span 2']
  assert not again.summary['pushed'] and again.summary['push_reason'].startswith(
      'already deployed as version ')


def test_a_span_rewritten_in_place_is_ingested_again(runs):
  rewritten = runs['span 2 rewritten']
  assert rewritten.status == 0
  assert INGESTION_NOISE_TRAINING <= rewritten.executed()
  assert rewritten.summary['spans'] == [2]
  # Trained on other data than what serves: from it.
  assert rewritten.summary['warm_started_from'] == runs['deployed before rewrite']


def test_spans_2_trains_on_both_and_evaluates_on_the_latest(runs):
  both = runs['spans 1 and 2']
  assert both.status == 0
  assert INGESTION_NOISE_TRAINING <= both.executed()
  assert both.summary['spans'] == [1, 2]
  assert 'Trained on spans 1, 2, from deployed version ' in both.printed
  assert 'spans 1, 2: output in' in both.printed
  properties, ids = runs['spans 1 and 2 examples']
  assert (properties['span'], properties['span_numbers']) == (2, '1,2')
  assert properties['train_examples'] == 2000 and properties['eval_examples'] == 200
  assert {i.split('/')[0] for i in ids} == {'span-1', 'span-2'} and len(set(ids)) == 2000


@pytest.mark.parametrize('spoil, flags, message', [
    ('loose file', (), 'IDX files beside span directories (train-labels-idx1-ubyte.gz)'),
    ('span-x', (), 'span-x: not a span directory'),
    ('missing file', (), 'span-2: missing t10k-images-idx3-ubyte (.gz or uncompressed)'),
    (None, ('--spans=3',), '--spans=3, but '),
])
def test_bad_layouts_are_refused_before_anything_runs(tmp_path, spoil, flags, message):
  data_dir = tmp_path / 'data'
  for span in (1, 2):
    conftest.write_dataset(data_dir / f'span-{span}', 8, 4)
  if spoil == 'loose file':
    os.rename(data_dir / 'span-1' / 'train-labels-idx1-ubyte.gz',
              data_dir / 'train-labels-idx1-ubyte.gz')
  elif spoil == 'span-x':
    os.makedirs(data_dir / 'span-x')
  elif spoil == 'missing file':
    os.remove(data_dir / 'span-2' / 't10k-images-idx3-ubyte.gz')
  output_dir = str(tmp_path / 'out')
  run = run_main(output_dir, f'--data_dir={data_dir}', *flags)
  assert run.status == 2 and run.summary is None
  [line] = [line for line in run.printed.splitlines() if line.startswith('error: ')]
  assert message in line, run.printed
  _assert_nothing_ran(output_dir)


# ---------------------------------------------------------------- the U-Net

def _trains_in_bfloat16():
  """No GPU, and a CPU with bfloat16 arithmetic: read here, not asked of the Trainer."""
  if tf.config.list_physical_devices('GPU'):
    return False
  with open('/proc/cpuinfo') as f:
    return bool({'avx512_bf16', 'amx_bf16'} & set(re.findall(r'\S+', f.read())))


def test_a_unet_trains_from_initial_weights_in_the_cpus_precision_and_deploys_in_float32(runs):
  run = runs['unet']
  assert run.summary['status'] == 'succeeded', run.printed[-3000:]
  assert '(unet model, 2 epochs)' in run.printed
  # What serves is a tutorial model: its weights do not fit a U-Net.
  assert run.summary['warm_started_from'] is None
  assert 'from initial weights' in run.printed
  assert run.summary['baseline_version'] in runs['versions before unet']   # the best of them
  precision = 'mixed_bfloat16' if _trains_in_bfloat16() else 'float32'
  said = [m for m in runs['unet log'] if m.startswith('Training computes in')]
  assert said == [f'Training computes in {precision}']
  assert run.summary['pushed']
  deployed = tf.saved_model.load(run.summary['pushed_model_dir'])
  assert sum(int(tf.size(v)) for v in deployed.trainable_variables) == 190_420  # the U-Net's
  # Mixed policies keep variables in float32: what tells is the graph's arithmetic.
  serving = deployed.signatures['serving_default']
  assert 'DT_BFLOAT16' not in str(serving.graph.as_graph_def())
  images = tf.random.uniform([2, 28, 28, 1], seed=1)
  denoised = serving(images=images)['denoised']
  assert denoised.dtype == tf.float32 and denoised.shape == (2, 28, 28, 1)


def test_a_version_deleted_by_hand_is_no_longer_the_baseline(runs):
  run = runs['after a deletion']
  assert run.summary['status'] == 'succeeded', run.printed[-3000:]
  assert run.executed() == {'DeployedModelBaseline', *EVALUATOR_AND_AFTER}
  assert run.summary['baseline_version'] != runs['deleted by hand']
  assert run.summary['baseline_version'] in runs['versions after a deletion']


# ---------------------------------------------------------------- data validation

@pytest.mark.parametrize('fault, message', [
    ('inverted', "drift from the deployed model's data (SplitPair-train_train): image: "
                 'Jensen-Shannon divergence '),
    ('one class', "drift from the deployed model's data (SplitPair-train_train): label: "
                  'L-infinity distance '),
    ('dimmed', "drift from the deployed model's data (SplitPair-train_train): image: "
               'Jensen-Shannon divergence '),
])
def test_a_faulty_span_stops_the_run_before_training_naming_the_anomaly(runs, fault, message):
  run = runs[fault]
  assert run.status == 1 and run.summary['status'] == 'failed'
  error = run.summary['error']
  assert error.startswith('DataGate failed: DataAnomaliesError: data validation found ')
  assert message in error, error
  # The measured value and the threshold, in numbers.
  assert re.search(message.replace('(', r'\(').replace(')', r'\)')
                   + r'[\d.e-]+ above the threshold [\d.e-]+', error), error
  assert f'Error: {error}' in run.printed
  assert re.search(r'^\[DataGate\] failed in ', run.printed, re.MULTILINE)
  assert run.states['FashionMnistExampleGen'] == 'executed'   # the new span was read
  assert not {'NoiseAugmenter', 'Trainer', 'Evaluator', 'DenoisePusher'} & set(run.states)
  assert not run.summary['pushed']


def test_faulty_spans_leave_the_serving_directory_untouched(runs):
  assert runs['versions after faults'] == runs['versions before faults']


def test_clean_new_spans_pass_the_data_gate(runs):
  for name in ('span 2', 'span 2 rewritten', 'spans 1 and 2'):
    assert runs[name].states['DataGate'] == 'executed', name
    assert runs[name].summary['status'] == 'succeeded', name
