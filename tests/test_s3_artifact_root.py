"""The compiled Kubeflow package with s3:// as pipeline root, serving and data dir, on a loopback S3 server.

moto's S3 server stands in for MinIO (or AWS S3); its endpoint and credentials
reach the tasks as environment variables, as a pod spec would give them. The
package's tasks run through tests/kfp_launcher.py, each in its entrypoint
(pipeline/container_entrypoint.py), which registers s3:// with tf.io.gfile and
leaves with os._exit. Everything is checked through boto3: this process never
imports tensorflow_io, since a process that used s3:// through it aborts as it
exits, which would end pytest with status 134.
"""
import json
import os
import socket
import subprocess
import sys
import time

import boto3
import portpicker
import pytest
import tensorflow as tf

from components import features
from components import serving_dir as serving_dir_lib
from pipeline import configs
from pipeline import kubeflow
from pipeline import pipeline as pipeline_lib
from tests import conftest
from tests import kfp_launcher
from tests.test_kfp_execution import IMAGE
from tests.test_kfp_execution import N_EVAL
from tests.test_kfp_execution import N_TRAIN
from tests.test_kfp_execution import PACKAGE_TASKS
from tests.test_kfp_execution import PACKAGE_VALUES

BUCKET = 'denoise-test'
SERVER_START_SECONDS = 60
# Artifacts that are all metadata: the push decision (the model goes to the serving dir),
# the KFP UI's scalar metrics, and (nothing deployed yet) the warm start's empty Model.
METADATA_ONLY = {('DenoisePusher', 'pushed_model'), ('DenoiseReport', 'metrics'),
                 ('WarmStartModel', 'base_model')}
# What a pod needs for a MinIO endpoint (here moto's), besides the endpoint URL.
CREDENTIALS = {
    'AWS_ACCESS_KEY_ID': 'testing',
    'AWS_SECRET_ACCESS_KEY': 'testing',
    'AWS_REGION': 'us-east-1',          # tensorflow-io
    'AWS_DEFAULT_REGION': 'us-east-1',  # boto3
    'AWS_EC2_METADATA_DISABLED': 'true',  # no credential lookups beyond the server
}


def s3_environment(endpoint):
  return dict(CREDENTIALS,
              S3_ENDPOINT=endpoint,       # tensorflow-io: tf.io.gfile
              AWS_ENDPOINT_URL=endpoint)  # boto3: Beam's S3 file system


@pytest.fixture(scope='module')
def s3_endpoint(tmp_path_factory):
  """http://127.0.0.1:PORT of a moto S3 server holding an empty BUCKET, stopped after the module."""
  port = portpicker.pick_unused_port()
  log_path = tmp_path_factory.mktemp('moto') / 'moto.log'
  with open(log_path, 'w') as log:
    server = subprocess.Popen([sys.executable, '-m', 'moto.server', '-H', '127.0.0.1',
                               '-p', str(port)], stdout=log, stderr=subprocess.STDOUT)
  try:
    deadline = time.monotonic() + SERVER_START_SECONDS
    while True:
      try:
        socket.create_connection(('127.0.0.1', port), timeout=1).close()
        break
      except OSError:
        if server.poll() is not None or time.monotonic() > deadline:
          pytest.fail(f'moto server not serving on {port}:\n{log_path.read_text()}')
        time.sleep(0.2)
    endpoint = f'http://127.0.0.1:{port}'
    _client(endpoint).create_bucket(Bucket=BUCKET)
    yield endpoint
  finally:
    server.terminate()
    try:
      server.wait(10)
    except subprocess.TimeoutExpired:
      server.kill()
      server.wait()


def _client(endpoint):
  return boto3.client('s3', endpoint_url=endpoint,
                      aws_access_key_id=CREDENTIALS['AWS_ACCESS_KEY_ID'],
                      aws_secret_access_key=CREDENTIALS['AWS_SECRET_ACCESS_KEY'],
                      region_name=CREDENTIALS['AWS_REGION'])


def _keys(client, prefix):
  """The keys of the objects under prefix, without the empty "dir/" ones tf.io.gfile makes."""
  pages = client.get_paginator('list_objects_v2').paginate(Bucket=BUCKET, Prefix=prefix)
  return [item['Key'] for page in pages for item in page.get('Contents', [])
          if not item['Key'].endswith('/')]


def _key(uri):
  """The object key of s3://BUCKET/key."""
  prefix = f's3://{BUCKET}/'
  assert uri.startswith(prefix), uri
  return uri[len(prefix):]


def _read(client, uri):
  return client.get_object(Bucket=BUCKET, Key=_key(uri))['Body'].read()


@pytest.fixture(scope='module')
def s3_run(s3_endpoint, tmp_path_factory):
  """(boto3 client, RunResult, the pod-local work dir) of one run of the package whose
  data, pipeline root and serving dir are in BUCKET."""
  client = _client(s3_endpoint)
  local = tmp_path_factory.mktemp('s3_package')
  data_dir = conftest.write_dataset(local / 'data', N_TRAIN, N_EVAL)
  for name in sorted(os.listdir(data_dir)):
    client.upload_file(os.path.join(data_dir, name), BUCKET, f'data/{name}')
    os.remove(os.path.join(data_dir, name))  # The run can only have read the bucket's.
  compiled = dict(PACKAGE_VALUES, data_dir=f's3://{BUCKET}/data')
  pipeline = pipeline_lib.create_pipeline(
      pipeline_root=f's3://{BUCKET}/root', serving_dir=f's3://{BUCKET}/serving',
      data_validation=False,
      **kubeflow.runtime_parameters(compiled))
  package = kubeflow.compile_pipeline(pipeline, IMAGE, str(local / 'denoise.yaml'))
  work_dir = local / 'pod'
  run = kfp_launcher.run_package(package, work_dir=str(work_dir),
                                 env=s3_environment(s3_endpoint))
  return client, run, work_dir


def test_every_task_exits_0_and_writes_its_artifacts_under_the_s3_root(s3_run):
  client, run, work_dir = s3_run
  assert run.root == f's3://{BUCKET}/root/{configs.PIPELINE_NAME}/{run.run_id}'
  assert set(run.tasks) == PACKAGE_TASKS
  # A task that exits otherwise than 0 raises TaskFailedError: each one used s3://.
  assert {task.state for task in run.tasks.values()} == {'executed'}
  for name, task in run.tasks.items():
    with open(task.log_path, errors='replace') as f:
      assert 'pure virtual method called' not in f.read(), name
    assert task.log_path.startswith(str(work_dir) + os.sep), name
    for key, artifact in task.artifacts.items():
      assert artifact['uri'].startswith(f'{run.root}/{name}/'), (name, key)
      prefix = _key(artifact['uri'])
      written = [k for k in _keys(client, prefix) if k == prefix or k.startswith(prefix + '/')]
      assert bool(written) != ((name, key) in METADATA_ONLY), (name, key, written)


def _count_records(client, uri, local_dir):
  count = 0
  for i, key in enumerate(_keys(client, _key(uri) + '/')):
    path = os.path.join(local_dir, str(i))
    client.download_file(BUCKET, key, path)
    count += sum(1 for _ in tf.data.TFRecordDataset(path))
  return count


def test_the_examples_come_from_the_s3_data_dir(s3_run, tmp_path):
  client, run, _ = s3_run
  examples = run.tasks['FashionMnistExampleGen'].artifacts['examples']['uri']
  assert [_count_records(client, f'{examples}/Split-{split}', tmp_path)
          for split in (features.TRAIN_SPLIT, features.EVAL_SPLIT)] == [N_TRAIN, N_EVAL]


def test_the_pusher_publishes_one_complete_version_in_the_s3_serving_dir(s3_run, tmp_path):
  client, run, _ = s3_run
  assert run.tasks['Evaluator'].artifacts['blessing']['metadata']['blessed'] == 1.0
  pushed = run.tasks['DenoisePusher'].artifacts['pushed_model']['metadata']
  assert (pushed['pushed'], pushed['reason']) == (1.0, 'blessed')
  keys = _keys(client, 'serving/')
  versions = {key.split('/')[1] for key in keys}
  assert versions == {pushed['pushed_version']}  # Nothing staged or leased is left.
  [version] = versions
  version_dir = f's3://{BUCKET}/serving/{version}'
  assert pushed['pushed_destination'] == version_dir
  model_uri = run.tasks['Trainer'].artifacts['model']['uri']
  assert json.loads(_read(client, f'{version_dir}/{serving_dir_lib.PUSH_METADATA}'))[
      'model_uri'] == model_uri
  # The Trainer's SavedModel, copied whole.
  serving_model = f'{model_uri}/Format-Serving'
  trained = {k[len(_key(serving_model)) + 1:] for k in _keys(client, _key(serving_model) + '/')}
  published = {k[len(f'serving/{version}/'):] for k in keys}
  assert 'saved_model.pb' in trained and 'variables/variables.index' in trained
  assert published == trained | {serving_dir_lib.PUSH_METADATA}
  for name in sorted(trained):
    local = tmp_path / name
    local.parent.mkdir(parents=True, exist_ok=True)
    content = _read(client, f'{version_dir}/{name}')
    assert content == _read(client, f'{serving_model}/{name}'), name
    local.write_bytes(content)
  serve = tf.saved_model.load(str(tmp_path)).signatures['serving_default']
  denoised = serve(images=tf.fill([2, 28, 28, 1], 0.5))[features.SERVING_OUTPUT_KEY]
  assert denoised.shape == (2, 28, 28, 1)
  report = json.loads(_read(
      client, run.tasks['DenoiseReport'].artifacts['report']['uri'] + '/metrics.json'))
  assert {key: report[key] for key in ('blessed', 'pushed', 'push_reason', 'pushed_model_dir',
                                       'baseline_version')} == {
      'blessed': True, 'pushed': True, 'push_reason': 'blessed',
      'pushed_model_dir': version_dir, 'baseline_version': None}


def test_without_the_entrypoints_exit_a_process_that_used_s3_aborts_as_it_exits(
    s3_endpoint, tmp_path):
  """Why every task leaves through os._exit (tensorflow/io issue 2039)."""
  code = ('import tensorflow as tf, tensorflow_io\n'
          f'with tf.io.gfile.GFile("s3://{BUCKET}/abort/done", "w") as f:\n'
          '  f.write("written")\n')
  child = subprocess.run([sys.executable, '-c', code], cwd=conftest.ROOT,
                         env=dict(os.environ, **s3_environment(s3_endpoint)),
                         capture_output=True, text=True, timeout=300, check=False)
  assert child.returncode == -6, child.stderr[-3000:]  # SIGABRT, after the work was done
  assert 'pure virtual method called' in child.stderr
  assert _read(_client(s3_endpoint), f's3://{BUCKET}/abort/done') == b'written'
