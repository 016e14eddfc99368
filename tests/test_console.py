"""What a person sees: the console of a local run, its log file, and fast refusals before TensorFlow."""
import io
import json
import logging
import os
import pathlib
import re
import subprocess
import sys
import tempfile

import pytest

from pipeline import configs
from pipeline import console as console_lib
from tests import conftest

EPOCHS = 1
# --nodata_validation: the components of the run, in the order they run.
COMPONENTS = ('DataSpans', 'FashionMnistExampleGen', 'TrainingHyperparameters',
              'WarmStartModel', 'NoiseAugmenter', 'Trainer', 'DeployedModelBaseline', 'Evaluator',
              'DenoisePusher', 'DenoiseReport')
# Run succeeded, Model, Noisy input, Baseline, Trained on, (NOT) blessed, (Not) pushed,
# Report, TensorBoard, Log.
SUMMARY_LINES = 10
# What the console must not show: TensorFlow's C++ log lines, absl INFO lines
# of TFX and Beam, TFX's warnings.
CPP_LOG_LINE = re.compile(r'^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+: [IWEF] ', re.MULTILINE)
NOISE = ('tensorflow/core', 'oneDNN', 'TensorRT', 'cuda', 'ArtifactQuery.property_predicate',
         'Using Any for unsupported type')
# What the log must hold of it, on any machine.
LOGGED_NOISE = ('ArtifactQuery.property_predicate', 'Component Trainer is running.')
HEAVY_MODULES = {'tensorflow', 'tfx', 'apache_beam'}


@pytest.fixture(scope='module')
def tiny_run(tmp_path_factory):
  """local_runner.py on 200 + 50 images, one epoch: (completed process, output dir)."""
  root = tmp_path_factory.mktemp('console')
  data_dir = conftest.write_dataset(root / 'data', 200, 50)
  output_dir = root / 'out'
  # As `make run` starts it: TensorFlow's C++ logging at its default level, and
  # without the TF_USE_LEGACY_KERAS=1 that importing tensorflow_transform (other
  # test modules) puts into this process's environment: with it TFMA would load
  # the model as Keras and apply its loss to the image shapes.
  env = {k: v for k, v in os.environ.items()
         if k not in ('TF_CPP_MIN_LOG_LEVEL', 'TF_USE_LEGACY_KERAS')}
  result = subprocess.run(
      [sys.executable, 'local_runner.py', f'--data_dir={data_dir}', f'--output_dir={output_dir}',
       f'--epochs={EPOCHS}', '--batch_size=8', '--nodata_validation'],
      cwd=conftest.ROOT, env=env, capture_output=True, text=True, timeout=900, check=False)
  assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
  return result, output_dir


def test_console_shows_start_components_epochs_and_summary_only(tiny_run):
  result, output_dir = tiny_run
  lines = result.stdout.splitlines()
  assert result.stderr == ''
  assert len(lines) == 1 + 2 * len(COMPONENTS) + EPOCHS + SUMMARY_LINES, result.stdout
  assert lines[0].startswith(f'Running {configs.PIPELINE_NAME} (tutorial model, 1 epoch, no data '
                             f'validation) on {output_dir.parent / "data"}, span 0: ')
  assert f'output in {output_dir}, log in {output_dir / configs.LOGS_DIR_NAME}' in lines[0]
  started = [m.group(1) for m in map(re.compile(r'\[(\w+)\] running \.\.\.$').match, lines) if m]
  ended = [m.group(1) for m in map(re.compile(r'\[(\w+)\] executed in \d+\.\d s$').match, lines)
           if m]
  assert sorted(started) == sorted(ended) == sorted(COMPONENTS)
  trainer_start = lines.index('[Trainer] running ...')
  assert re.fullmatch(r'  \d+/\d+ - \d+m?s - loss: [\d.]+ - val_loss: [\d.]+ - .*',
                      lines[trainer_start + 1])
  summary = lines[-SUMMARY_LINES:]
  assert summary[0] == 'Run succeeded.'
  assert summary[4] == 'Trained on span 0, from initial weights'
  assert not CPP_LOG_LINE.search(result.stdout)
  for line in lines:
    for noise in NOISE:
      assert noise not in line, line


def test_summary_names_the_tensorboard_command_for_the_trainers_logs(tiny_run):
  result, output_dir = tiny_run
  with open(output_dir / configs.RUN_SUMMARY_NAME) as f:
    summary = json.load(f)
  logdir = summary['tensorboard_logdir']
  assert f'TensorBoard: tensorboard --logdir {logdir}\n' in result.stdout
  assert os.path.dirname(logdir) == str(output_dir / 'artifacts' / 'Trainer' / 'model_run')
  for run in ('train', 'validation'):
    assert [n for n in os.listdir(os.path.join(logdir, run)) if n.startswith('events.out')]


def test_log_file_holds_what_the_console_does_not(tiny_run):
  result, output_dir = tiny_run
  [log_name] = os.listdir(output_dir / configs.LOGS_DIR_NAME)
  log_path = output_dir / configs.LOGS_DIR_NAME / log_name
  assert f'Log: {log_path}\n' in result.stdout
  with open(log_path) as f:
    log = f.read()
  assert CPP_LOG_LINE.search(log)
  for noise in LOGGED_NOISE:
    assert noise in log, noise
  assert re.search(r'^\d+/\d+ - .* - loss: ', log, re.MULTILINE)  # Keras' line, as printed


def _imported_modules(importtime_stderr):
  """Top-level names of the modules `python -X importtime` reports."""
  return {line.rsplit('|', 1)[1].strip().split('.')[0]
          for line in importtime_stderr.splitlines() if line.startswith('import time:')}


def _run_without_heavy_imports(runner, *flags):
  """Runs a runner under -X importtime: (exit status, error lines, modules imported)."""
  result = subprocess.run([sys.executable, '-X', 'importtime', runner, *flags],
                          cwd=conftest.ROOT, capture_output=True, text=True, timeout=120,
                          check=False)
  errors = [l for l in result.stderr.splitlines() if not l.startswith('import time:')]
  return result.returncode, errors, _imported_modules(result.stderr)


@pytest.mark.parametrize('flag, message', [
    ('--data_dir=/nonexistent/fashion', '--data_dir /nonexistent/fashion: no such directory'),
    ('--epochs=0', '--epochs must be an integer >= 1, got 0'),
    ('--noise_factor=-1', '--noise_factor must be finite and >= 0, got -1.0'),
    ('--min_ssim=nan', '--min_ssim must be a finite number, got nan'),
    ('--train_examples=-5', '--train_examples must be an integer >= 0 (0 = all), got -5'),
    # Else the Trainer would refuse it, after ingestion and noise.
    ('--seed=4294967296', '--seed must be an integer in [0, 4294967295], got 4294967296'),
])
def test_local_runner_refuses_a_bad_flag_before_importing_tensorflow(tmp_path, flag, message):
  status, errors, modules = _run_without_heavy_imports(
      'local_runner.py', f'--output_dir={tmp_path / "out"}', flag)
  assert (status, errors) == (2, [f'error: {message}'])
  assert 'absl' in modules and not modules & HEAVY_MODULES
  assert not (tmp_path / 'out').exists()


def test_local_runner_names_the_missing_data_files_before_importing_tensorflow(tmp_path):
  data_dir = conftest.write_dataset(tmp_path / 'data', 3, 2, gzipped=False)
  os.remove(os.path.join(data_dir, 't10k-labels-idx1-ubyte'))
  status, errors, modules = _run_without_heavy_imports('local_runner.py', f'--data_dir={data_dir}')
  assert (status, errors) == (2, [f'error: --data_dir {data_dir}: missing t10k-labels-idx1-ubyte '
                                  '(.gz or uncompressed)'])
  assert 'absl' in modules and not modules & HEAVY_MODULES


def test_kubeflow_runner_refuses_a_bad_flag_before_importing_tensorflow(tmp_path):
  status, errors, modules = _run_without_heavy_imports(
      'kubeflow_runner.py', '--pipeline_root=gs://bucket/root', f'--output={tmp_path / "p.yaml"}',
      '--learning_rate=0')
  assert (status, errors) == (1, ['error: --learning_rate must be a finite number > 0, got 0.0'])
  assert 'absl' in modules and not modules & HEAVY_MODULES
  assert not (tmp_path / 'p.yaml').exists()


# ---------------------------------------------------------------- the console's rules

def test_keras_epoch_lines_reach_the_console_as_one_line_each_written_in_pieces():
  log, out = io.StringIO(), io.StringIO()
  stdout = console_lib.KerasEpochEcho(log, console_lib.Console(out, io.StringIO()))
  written = ('Epoch 1/2\n', '3/3 - 2s - loss: 0.1835', ' - val_loss: 0.1185 - 2s/epoch\n',
             'Assets written to: /x\n', 'Epoch 2/2\n3/3 - 0s - loss: 0.0828 - val_loss: 0.0634\n',
             # A fit of one epoch: Keras prints no 'Epoch 1/1'.
             '3/3 - 1s - loss: 0.0700 - val_loss: 0.0600\n')
  for piece in written:
    stdout.write(piece)
  assert log.getvalue() == ''.join(written)
  assert out.getvalue() == ('  Epoch 1/2: 3/3 - 2s - loss: 0.1835 - val_loss: 0.1185 - 2s/epoch\n'
                            '  Epoch 2/2: 3/3 - 0s - loss: 0.0828 - val_loss: 0.0634\n'
                            '  3/3 - 1s - loss: 0.0700 - val_loss: 0.0600\n')


def test_warnings_of_project_code_reach_the_console_library_ones_do_not(tmp_path):
  out = io.StringIO()
  logger = logging.getLogger('test_console.project_warnings')
  logger.propagate = False
  logger.addHandler(console_lib.project_warnings_handler(out))
  site_packages = os.path.join(conftest.ROOT, '.venv', 'lib', 'python3.10', 'site-packages')
  for level, path, message in (
      (logging.WARNING, os.path.join(conftest.ROOT, 'components', 'serving_dir.py'), 'ours'),
      (logging.INFO, os.path.join(conftest.ROOT, 'components', 'serving_dir.py'), 'our info'),
      (logging.ERROR, os.path.join(conftest.ROOT, 'components', 'model_code', 'denoise_trainer.py'),
       'our trainer'),
      (logging.WARNING, os.path.join(site_packages, 'tfx', 'orchestration', 'x.py'), 'tfx'),
      (logging.ERROR, '/usr/lib/python3.10/logging/__init__.py', 'elsewhere')):
    logger.handle(logging.LogRecord('absl', level, path, 1, message, None, None))
  assert out.getvalue() == 'WARNING: ours\nERROR: our trainer\n'


def test_a_diverted_process_shows_its_lines_our_warnings_and_a_fatal_error_only(tmp_path):
  log_path = tmp_path / 'logs' / 'run.log'
  # A script inside the project, so that its warning counts as the project's.
  with tempfile.TemporaryDirectory(dir=conftest.ROOT) as user_code:
    script = pathlib.Path(user_code) / 'script.py'
    script.write_text(
        'import os, subprocess\n'
        'from absl import logging\n'
        'from pipeline import console\n'
        f'c = console.divert_to_log({str(log_path)!r})\n'
        'c.print("on the console")\n'
        'os.write(2, b"C++ says hello\\n")\n'
        'subprocess.run(["echo", "a subprocess"], check=True)\n'
        'print("print goes to the log")\n'
        'logging.warning("act on this")\n'
        'raise RuntimeError("boom")\n')
    env = dict(os.environ, PYTHONPATH=conftest.ROOT)
    result = subprocess.run([sys.executable, str(script)], env=env,
                            capture_output=True, text=True, timeout=60, check=False)
  assert result.returncode == 1
  assert result.stdout == 'on the console\n'
  assert result.stderr == ('WARNING: act on this\n'
                           f'error: RuntimeError: boom (log: {log_path})\n')
  log = log_path.read_text()
  for line in ('C++ says hello', 'a subprocess', 'print goes to the log', 'Traceback',
               'RuntimeError: boom'):
    assert line in log
  assert 'on the console' not in log
