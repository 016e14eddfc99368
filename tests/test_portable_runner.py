"""The Beam stages on Beam's portable runner path, the one Flink, Spark and Dataflow Runner v2 take.

Beam's job service and SDK worker pool run as servers on loopback ports: the job
travels as a Runner API pipeline and its work as Fn API bundles to workers in other
processes, as on a cluster. The noisy examples must be byte-identical to the
in-process DirectRunner's, and the statistics equal.
"""
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time

import portpicker
import pytest
import tensorflow as tf
from tensorflow_metadata.proto.v0 import statistics_pb2
from tfx.components import StatisticsGen

from components import features
from components import tfrecord_io
from components.noise.component import NoiseAugmenter
from tests import conftest
from tests import tfx_helpers

N_TRAIN, N_EVAL = 12, 6
SERVER_START_SECONDS = 120  # importing Beam on a busy 2-core machine
SERVER_STOP_SECONDS = 10

def _wait_until_accepting(process, port, log_path):
  deadline = time.monotonic() + SERVER_START_SECONDS
  while time.monotonic() < deadline:
    if process.poll() is not None:
      with open(log_path) as log:
        pytest.fail(f'{process.args} exited with {process.returncode}:\n{log.read()}')
    try:
      socket.create_connection(('localhost', port), timeout=1).close()
      return
    except OSError:
      time.sleep(0.2)
  pytest.fail(f'{process.args} did not accept connections on port {port} '
              f'within {SERVER_START_SECONDS} s')


def _stop(process):
  """Stops the server and the workers it started (its process group)."""
  for sig in (signal.SIGTERM, signal.SIGKILL):
    try:
      os.killpg(process.pid, sig)
    except ProcessLookupError:
      break
    try:
      process.wait(SERVER_STOP_SECONDS)
      break
    except subprocess.TimeoutExpired:
      continue
  process.wait()


@pytest.fixture(scope='module')
def portable_beam_args(tmp_path_factory):
  """Beam options that run on a job service and a worker pool started here, on loopback."""
  server_dir = tmp_path_factory.mktemp('beam_servers')
  env = dict(os.environ,
             # The pool starts workers as a bare `python`: this venv's.
             PATH=os.pathsep.join([os.path.dirname(sys.executable), os.environ['PATH']]),
             # Workers install nothing staged with the job: they import
             # TFX and this repository from where the tests run.
             PYTHONPATH=conftest.ROOT,
             # Staged artifacts and worker temporaries stay in the test's directory.
             TMPDIR=str(server_dir))
  job_port, pool_port = portpicker.pick_unused_port(), portpicker.pick_unused_port()
  commands = {
      'job_service': ['-m', 'apache_beam.runners.portability.local_job_service_main',
                      f'--port={job_port}'],
      'worker_pool': ['-m', 'apache_beam.runners.worker.worker_pool_main',
                      f'--service_port={pool_port}'],
  }
  processes = {}
  try:
    for name, args in commands.items():
      with open(server_dir / f'{name}.log', 'w') as log:
        # A session of its own: stopping its group also stops the workers it started.
        processes[name] = subprocess.Popen([sys.executable, *args], env=env, stdout=log,
                                           stderr=subprocess.STDOUT, start_new_session=True)
    for name, port in (('job_service', job_port), ('worker_pool', pool_port)):
      _wait_until_accepting(processes[name], port, server_dir / f'{name}.log')
    yield ['--runner=PortableRunner', f'--job_endpoint=localhost:{job_port}',
           '--environment_type=EXTERNAL', f'--environment_config=localhost:{pool_port}',
           # With no image, setup file or extra package named, TFX stages an
           # sdist of itself per Beam stage, built from a 42 MB copy of its
           # package that it leaves in the temp directory. The workers already
           # import TFX, as they would from the project's image; the EXTERNAL
           # environment does not use the image name.
           '--sdk_container_image=denoise-pipeline:unused-by-external-workers',
           # Spares a `pip freeze` per stage.
           '--experiments=disable_logging_submission_environment',
           # The job's state stream from Beam's job service times out after this
           # (default 60 s): a loaded 2-core machine is slower than that.
           '--job_server_timeout=600']
  finally:
    for process in processes.values():
      _stop(process)


def _run(data_dir, root, beam_args):
  """Runs ingestion, noise and statistics.

  Returns the noisy records as (split, example id, serialized record) in id order,
  and the statistics by split.
  """
  gen = tfx_helpers.example_gen(data_dir)
  augmenter = NoiseAugmenter(examples=gen.outputs['examples'], noise_factor=0.3, seed=5)
  statistics_gen = StatisticsGen(examples=gen.outputs['examples'])
  config = tfx_helpers.run_components([gen, augmenter, statistics_gen], str(root),
                                      beam_args=beam_args)
  augmented = max(tfx_helpers.live_artifacts(config, 'Examples'), key=lambda a: a.id)
  [statistics] = tfx_helpers.live_artifacts(config, 'ExampleStatistics')
  records, stats = [], {}
  for split in features.SPLITS:
    files = tf.io.gfile.glob(os.path.join(augmented.uri, f'Split-{split}', '*'))
    for record in tfrecord_io.tfrecord_dataset(files):
      example_id = tf.io.parse_single_example(
          record, features.augmented_feature_spec(features.ID_KEY))[features.ID_KEY].numpy()
      records.append((split, example_id, record.numpy()))
    with tf.io.gfile.GFile(os.path.join(statistics.uri, f'Split-{split}', 'FeatureStats.pb'),
                           'rb') as f:
      stats[split] = statistics_pb2.DatasetFeatureStatisticsList.FromString(f.read())
  return sorted(records), stats


def test_portable_runner_gives_the_direct_runners_noisy_examples_byte_for_byte(
    portable_beam_args, tmp_path, monkeypatch):
  data_dir = conftest.write_dataset(tmp_path / 'data', N_TRAIN, N_EVAL)
  # Beam's stager and TFX write temporaries with tempfile: keep them in the test's directory.
  monkeypatch.setattr(tempfile, 'tempdir', str(tmp_path / 'tmp'))
  os.makedirs(tempfile.tempdir)
  portable, portable_stats = _run(data_dir, tmp_path / 'portable', portable_beam_args)
  direct, direct_stats = _run(data_dir, tmp_path / 'direct', None)

  assert len(portable) == N_TRAIN + N_EVAL
  assert [r[:2] for r in portable] == [r[:2] for r in direct]
  assert [p[:2] for p, d in zip(portable, direct) if p != d] == []  # byte-identical records
  for split, n in ((features.TRAIN_SPLIT, N_TRAIN), (features.EVAL_SPLIT, N_EVAL)):
    assert portable_stats[split].datasets[0].num_examples == n
    assert portable_stats[split] == direct_stats[split], split
