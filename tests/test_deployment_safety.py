"""Deployment safety end to end, through local_runner.py: a full disk, a deployment that
changes during the run, a second run on a busy output directory, a killed run."""
import errno
import json
import os
import signal
import subprocess
import sys
import time

from absl import flags
from absl.testing import flagsaver
import pytest
import tensorflow as tf

from components import locks
from components import serving_dir as serving_dir_lib
from components.evaluation import executor as evaluator_executor
from pipeline import configs
from tests import conftest

# Tiny data, one epoch, gates that any denoiser passes: these tests are about
# what happens around the push, not about the model.
FLAGS_ = ('--epochs=1', '--batch_size=8', '--nodata_validation', '--min_psnr_gain_db=-100',
          '--min_ssim=0', '--max_psnr_drop_db=100', '--max_ssim_drop=2')


def _run_in_process(*argv):
  """local_runner.main on argv, in this process; returns (exit status, run summary)."""
  import local_runner  # pylint: disable=g-import-not-at-top
  with flagsaver.flagsaver():
    # --verbose: no diverting of this process's file descriptors into a log.
    flags.FLAGS(['local_runner.py', '--verbose', *argv])
    with pytest.raises(SystemExit) as exit_:
      local_runner.main([])
    output_dir = flags.FLAGS.output_dir
  with open(os.path.join(output_dir, configs.RUN_SUMMARY_NAME)) as f:
    return exit_.value.code, json.load(f)


def _command(data_dir, output_dir, *extra):
  return [sys.executable, 'local_runner.py', f'--data_dir={data_dir}',
          f'--output_dir={output_dir}', *FLAGS_, *extra]


@pytest.fixture(scope='module')
def dirs(tmp_path_factory):
  root = tmp_path_factory.mktemp('safety')
  data_dir = conftest.write_dataset(root / 'data', 300, 100)
  return data_dir, str(root / 'out'), str(root / 'serving')


@pytest.fixture(scope='module')
def full_disk_then_freed(dirs):
  """A run whose push hits a full disk, then the same command with space."""
  data_dir, output_dir, serving = dirs
  argv = (f'--data_dir={data_dir}', f'--output_dir={output_dir}', f'--serving_dir={serving}',
          *FLAGS_)
  real_copy = serving_dir_lib.gfile.copy

  def copy_on_a_full_disk(source, destination, *args, **kwargs):
    if destination.startswith(serving):  # the disk of the serving directory is full
      raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), destination)
    return real_copy(source, destination, *args, **kwargs)

  serving_dir_lib.gfile.copy = copy_on_a_full_disk
  try:
    full = _run_in_process(*argv)
  finally:
    serving_dir_lib.gfile.copy = real_copy
  listing_after_full = sorted(os.listdir(serving)) if os.path.isdir(serving) else []
  freed = _run_in_process(*argv)
  return full, listing_after_full, freed


def test_a_full_disk_fails_in_one_line_and_publishes_nothing(full_disk_then_freed):
  (status, summary), listing, _ = full_disk_then_freed
  assert status == 1 and summary['status'] == 'failed'
  assert summary['error'].startswith('DenoisePusher failed: DiskFull: disk is full')
  assert '\n' not in summary['error']
  assert not summary['pushed']
  # No version and no staging left: only the pushers' lock file.
  assert [name for name in listing if not name.startswith('.push')] == []


def test_after_space_is_freed_the_same_command_completes(full_disk_then_freed, dirs):
  _, _, (status, summary) = full_disk_then_freed
  assert status == 0 and summary['status'] == 'succeeded'
  assert summary['pushed'] and summary['blessed']
  states = {c['id']: c['state'] for c in summary['components']}
  assert states['Trainer'] == 'cached' and states['DenoisePusher'] == 'executed'
  [version] = serving_dir_lib.versions(dirs[2])
  assert summary['pushed_model_dir'] == os.path.join(dirs[2], version)


def test_a_deployment_that_changes_during_the_run_is_not_overwritten(
    full_disk_then_freed, dirs, monkeypatch):
  data_dir, output_dir, serving = dirs
  [deployed] = serving_dir_lib.versions(serving)
  evaluate = evaluator_executor.Executor.Do
  concurrent = {}

  def evaluate_while_another_run_deploys(self, input_dict, output_dict, exec_properties):
    evaluate(self, input_dict, output_dict, exec_properties)
    # Another run, compared against the same version, finishes its push now.
    concurrent['dir'] = serving_dir_lib.publish(
        os.path.join(serving, deployed), serving, {'model_uri': 'another run'}, deployed)

  monkeypatch.setattr(evaluator_executor.Executor, 'Do', evaluate_while_another_run_deploys)
  status, summary = _run_in_process(
      f'--data_dir={data_dir}', f'--output_dir={output_dir}', f'--serving_dir={serving}',
      *FLAGS_, '--learning_rate=0.002')  # a new model
  newer = os.path.basename(concurrent['dir'])
  assert status == 0 and summary['blessed'] and not summary['pushed']
  assert summary['push_reason'] == (
      f'deployment changed during the run: compared with {deployed}, now {newer}; run again')
  assert serving_dir_lib.versions(serving) == [deployed, newer]


def test_a_second_run_on_a_busy_output_dir_stops_at_once_naming_the_holder(dirs, tmp_path):
  data_dir, _, _ = dirs
  output_dir = tmp_path / 'busy'
  output_dir.mkdir()
  with locks.pid_lock(str(output_dir / locks.LOCK_FILE), str(output_dir)):
    result = subprocess.run(_command(data_dir, output_dir), cwd=conftest.ROOT,
                            capture_output=True, text=True, timeout=300)
  assert result.returncode != 0
  assert f'error: another run (pid {os.getpid()}) is using {output_dir}' in result.stderr
  assert sorted(os.listdir(output_dir)) == [locks.LOCK_FILE]  # no component ran


def test_a_run_killed_during_training_completes_on_the_next_call(dirs, tmp_path):
  data_dir, _, _ = dirs
  output_dir = tmp_path / 'killed'
  command = _command(data_dir, output_dir, '--epochs=3')
  process = subprocess.Popen(command, cwd=conftest.ROOT, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True)
  try:
    deadline = time.monotonic() + 600
    for line in process.stdout:
      if '[Trainer]' in line or time.monotonic() > deadline:
        break
    time.sleep(2)  # inside training
    process.send_signal(signal.SIGKILL)
  finally:
    process.kill()
    process.wait()
  assert process.returncode == -signal.SIGKILL
  assert not os.path.exists(output_dir / configs.RUN_SUMMARY_NAME)
  result = subprocess.run(command, cwd=conftest.ROOT, capture_output=True, text=True,
                          timeout=900)
  assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
  with open(output_dir / configs.RUN_SUMMARY_NAME) as f:
    summary = json.load(f)
  assert summary['status'] == 'succeeded' and summary['pushed']
  assert tf.io.gfile.exists(os.path.join(summary['pushed_model_dir'], 'saved_model.pb'))
