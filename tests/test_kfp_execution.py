"""The compiled Kubeflow package, run task by task as a cluster runs it (tests/kfp_launcher.py).

First the launcher itself, on a tiny hand-written PipelineSpec whose tasks are
`python -c` scripts; then the project's package, twice against one serving
directory: every component in its container entrypoint, blessing and push
decisions travelling as artifact metadata.
"""
import copy
import glob
import json
import os
import re
import shutil

from google.protobuf import json_format
from kfp.pipeline_spec import pipeline_spec_pb2
import pytest
import tensorflow as tf
import yaml

from components import features
from components import schema as schema_lib
from components import serving_dir as serving_dir_lib
from components.ingestion import data_sources
from components.ingestion import idx
from pipeline import configs
from pipeline import kubeflow
from pipeline import pipeline as pipeline_lib
from tests import conftest
from tests import kfp_launcher

# Writes its data artifact, `size` to its output parameter file and `tag` in its ExecutorOutput.
PRODUCER = '''
import json, os, sys
executor_input = json.loads(sys.argv[1])
params, outputs = executor_input['inputs']['parameterValues'], executor_input['outputs']
data = outputs['artifacts']['data']['artifacts'][0]
os.makedirs(data['uri'])
with open(os.path.join(data['uri'], 'rows.txt'), 'w') as f:
  f.write(params['label'] * int(params['count']))
with open(outputs['parameters']['size']['outputFile'], 'w') as f:
  f.write(str(int(params['count']) * len(params['label'])))
with open(outputs['outputFile'], 'w') as f:
  json.dump({'artifacts': {'data': {'artifacts': [{'metadata': {
      'rows': params['count'], 'checked': True, 'splits': ['a', 'b']}}]}},
      'parameterValues': {'tag': params['label'] + '!'}}, f)
'''
# Records the inputs it received, with the producer's file, in its report artifact, whose uri
# it moves; or prints 100 lines and fails when asked to.
CONSUMER = '''
import json, os, sys
executor_input = json.loads(sys.argv[1])
inputs, outputs = executor_input['inputs'], executor_input['outputs']
if inputs['parameterValues']['fail']:
  print('\\n'.join(f'line {i}' for i in range(100)), flush=True)
  sys.exit('consumer asked to fail')
with open(os.path.join(inputs['artifacts']['data']['artifacts'][0]['uri'], 'rows.txt')) as f:
  rows = f.read()
uri = outputs['artifacts']['report']['artifacts'][0]['uri'] + '-final'
os.makedirs(uri)
with open(os.path.join(uri, 'inputs.json'), 'w') as f:
  json.dump(dict(inputs, rows=rows), f)
with open(outputs['outputFile'], 'w') as f:
  json.dump({'artifacts': {'report': {'artifacts': [{'uri': uri, 'metadata': {'n': 1}}]}}}, f)
'''
# A task whose artifact lives in an object store: it writes only the launcher's local files,
# and reports in its artifact's metadata what its environment held.
ENV_REPORTER = '''
import json, os, sys
outputs = json.loads(sys.argv[1])['outputs']
with open(outputs['parameters']['size']['outputFile'], 'w') as f:
  f.write('1')
with open(outputs['outputFile'], 'w') as f:
  json.dump({'artifacts': {'data': {'artifacts': [{'metadata': {
      'endpoint': os.environ['S3_ENDPOINT'], 'home': os.environ['HOME']}}]}},
      'parameterValues': {'tag': 't'}}, f)
'''
DATASET = {'schemaTitle': 'system.Dataset'}
# Never pulled: the launcher runs this repository's code with this interpreter.
IMAGE = 'denoise-pipeline:local'
# The package's tasks without data validation (stock TFX components; each task costs a
# process start-up of ~15 s CPU), and those a re-run with nothing new takes from the cache.
PACKAGE_TASKS = {'DataSpans', 'FashionMnistExampleGen', 'NoiseAugmenter',
                 'TrainingHyperparameters', 'WarmStartModel', 'Trainer', 'DeployedModelBaseline',
                 'Evaluator', 'DenoisePusher', 'DenoiseReport'}
CACHED_ON_RERUN = {'FashionMnistExampleGen', 'NoiseAugmenter', 'TrainingHyperparameters',
                   'WarmStartModel', 'Trainer'}
# The package's data and compile-time parameter values, but data_dir: a tiny dataset on which
# the tutorial model passes the gates.
N_TRAIN, N_EVAL = 1000, 200
# Enough steps for the tutorial model to pass the default gates on 1,000 images.
PACKAGE_VALUES = dict(spans=1, warm_start=1, train_examples=0, eval_examples=0,
                      noise_factor=0.2, model='tutorial', epochs=2, batch_size=8, learning_rate=3e-3,
                      min_psnr_gain_db=3.0, min_ssim=0.65, max_psnr_drop_db=0.1,
                      max_ssim_drop=0.005)


def _parameter(parameter_type, **fields):
  return dict(parameterType=parameter_type, **fields)


def _output_of(task, key, kind='Parameter'):
  return {f'taskOutput{kind}': {'producerTask': task, f'output{kind}Key': key}}


def tiny_spec():
  """Two tasks, listed and named against their order: a_consumer needs z_producer."""
  def executor(script):
    return {'container': {'image': 'python:3.10', 'command': ['python', '-c', script],
                          'args': ['{{$}}']}}

  def task(component, inputs, upstream=()):
    return {'componentRef': {'name': component}, 'taskInfo': {'name': component},
            'dependentTasks': list(upstream), 'inputs': inputs,
            'cachingOptions': {'enableCache': True}}

  return {
      'pipelineInfo': {'name': 'tiny'},
      'schemaVersion': '2.1.0',
      'sdkVersion': 'hand-written',
      'root': {
          'inputDefinitions': {'parameters': {
              'count': _parameter('NUMBER_INTEGER', defaultValue=3),
              'label': _parameter('STRING', defaultValue='abcd'),
              'scale': _parameter('NUMBER_DOUBLE', defaultValue=0.5),
              'fail': _parameter('BOOLEAN', defaultValue=False)}},
          'dag': {'tasks': {
              'a_consumer': task('consumer', {
                  'artifacts': {'data': _output_of('z_producer', 'data', 'Artifact')},
                  'parameters': {
                      'size': _output_of('z_producer', 'size'),
                      'tag': _output_of('z_producer', 'tag'),
                      'count_text': {'componentInputParameter': 'count'},
                      'scale': {'componentInputParameter': 'scale'},
                      'fail': {'componentInputParameter': 'fail'}}}, ['z_producer']),
              'z_producer': task('producer', {'parameters': {
                  'count': {'componentInputParameter': 'count'},
                  'label': {'componentInputParameter': 'label'},
                  'greeting': {'runtimeValue': {'constant': 'hi'}}}}),
          }}},
      'components': {
          'producer': {
              'executorLabel': 'producer',
              'inputDefinitions': {'parameters': {
                  'count': _parameter('NUMBER_INTEGER'), 'label': _parameter('STRING'),
                  'greeting': _parameter('STRING')}},
              'outputDefinitions': {
                  'artifacts': {'data': {'artifactType': DATASET}},
                  'parameters': {'size': _parameter('NUMBER_INTEGER'),
                                 'tag': _parameter('STRING')}}},
          'consumer': {
              'executorLabel': 'consumer',
              'inputDefinitions': {
                  'artifacts': {'data': {'artifactType': DATASET}},
                  'parameters': {
                      'size': _parameter('NUMBER_INTEGER'), 'tag': _parameter('STRING'),
                      'count_text': _parameter('STRING'),
                      'scale': _parameter('NUMBER_DOUBLE'), 'fail': _parameter('BOOLEAN')}},
              'outputDefinitions': {'artifacts': {'report': {'artifactType': DATASET}}}}},
      'deploymentSpec': {'executors': {
          'producer': executor(PRODUCER), 'consumer': executor(CONSUMER)}},
  }


def _write(spec, path):
  json_format.ParseDict(spec, pipeline_spec_pb2.PipelineSpec())  # A real PipelineSpec.
  with open(path, 'w') as f:
    yaml.safe_dump(spec, f)
  return str(path)


@pytest.fixture
def tiny(tmp_path):
  """(spec, a function that writes a spec and runs it with pipeline root tmp_path/root)."""
  def run(spec, **kwargs):
    return kfp_launcher.run_package(_write(spec, tmp_path / 'tiny.yaml'),
                                    pipeline_root=str(tmp_path / 'root'), **kwargs)
  return tiny_spec(), run


def _received(run):
  with open(os.path.join(run.tasks['a_consumer'].artifacts['report']['uri'], 'inputs.json')) as f:
    return json.load(f)


def test_tasks_run_in_dependency_order_and_pass_outputs_on(tiny, tmp_path):
  spec, run_spec = tiny
  run = run_spec(spec, run_id='run-1')
  assert list(run.tasks) == ['z_producer', 'a_consumer']
  assert run.root == str(tmp_path / 'root' / 'tiny' / 'run-1')
  producer, consumer = run.tasks['z_producer'], run.tasks['a_consumer']
  assert producer.state == consumer.state == 'executed'
  data = producer.artifacts['data']
  # <pipeline root>/<pipeline>/<run>/<task>/<a uuid>/<output key>, as the driver lays it out.
  task_dir, key = os.path.split(data['uri'])
  assert (os.path.dirname(task_dir), key) == (os.path.join(run.root, 'z_producer'), 'data')
  # Metadata as ML Metadata hands it downstream: booleans as 1/0, lists wrapped.
  assert data['metadata'] == {'rows': 3.0, 'checked': 1.0, 'splits': {'list': ['a', 'b']},
                              'display_name': 'data'}
  assert producer.parameters == {'size': 12.0, 'tag': 'abcd!'}
  received = _received(run)
  assert received['rows'] == 'abcd' * 3
  assert received['artifacts'] == {'data': {'artifacts': [data]}}
  assert received['parameterValues'] == {
      'size': 12.0, 'tag': 'abcd!', 'count_text': '3', 'scale': 0.5, 'fail': False}
  report = consumer.artifacts['report']
  assert report['uri'].endswith('/report-final')  # The ExecutorOutput's uri wins.
  assert report['metadata'] == {'n': 1.0, 'display_name': 'report'}
  assert set(os.listdir(task_dir)) == {'data', 'executor-logs', 'outputs',
                                       'output_metadata.json'}
  assert producer.log_path == os.path.join(task_dir, 'executor-logs')


def test_run_time_parameters_override_defaults_with_their_types(tiny):
  spec, run_spec = tiny
  run = run_spec(spec, parameters={'count': 2, 'label': 'xy', 'scale': 1})
  received = _received(run)
  assert received['rows'] == 'xyxy'
  assert received['parameterValues'] == {
      'size': 4.0, 'tag': 'xy!', 'count_text': '2', 'scale': 1.0, 'fail': False}
  assert run.tasks['z_producer'].artifacts['data']['metadata']['rows'] == 2.0
  for overrides, error, message in (
      ({'count': '2'}, TypeError, r"'count' is NUMBER_INTEGER, got '2'"),
      ({'count': True}, TypeError, r"'count' is NUMBER_INTEGER, got True"),
      ({'fail': 1}, TypeError, r"'fail' is BOOLEAN, got 1"),
      ({'label': 7}, TypeError, r"'label' is STRING, got 7"),
      ({'epochs': 3}, ValueError, r"no pipeline parameter \['epochs'\]")):
    with pytest.raises(error, match=message):
      run_spec(spec, parameters=overrides)
  del spec['root']['inputDefinitions']['parameters']['count']['defaultValue']
  with pytest.raises(ValueError, match="'count' has neither a value nor a default"):
    run_spec(spec)
  assert run_spec(spec, parameters={'count': 1}).tasks['a_consumer'].state == 'executed'


def test_a_failed_task_stops_the_run_with_its_log_tail(tiny):
  spec, run_spec = tiny
  with pytest.raises(kfp_launcher.TaskFailedError,
                     match='task a_consumer failed with exit code 1') as failure:
    run_spec(spec, parameters={'fail': True})
  message = str(failure.value)
  assert failure.value.task == 'a_consumer'
  assert 'line 99\n' in message and 'consumer asked to fail' in message
  assert 'line 50\n' not in message  # The tail only.
  with open(failure.value.log_path) as f:
    assert 'line 0\n' in f.read()


def test_cached_tasks_reuse_the_outputs_of_an_earlier_run(tiny):
  spec, run_spec = tiny
  first = run_spec(spec)
  second = run_spec(spec, parameters={'scale': 2.0})
  assert {n: t.state for n, t in second.tasks.items()} == {
      'z_producer': 'cached', 'a_consumer': 'executed'}
  producer = second.tasks['z_producer']
  assert producer.artifacts == first.tasks['z_producer'].artifacts and producer.log_path is None
  assert _received(second)['parameterValues']['scale'] == 2.0
  spec['root']['dag']['tasks']['a_consumer']['cachingOptions']['enableCache'] = False
  third = run_spec(spec, parameters={'scale': 2.0})
  assert {n: t.state for n, t in third.tasks.items()} == {
      'z_producer': 'cached', 'a_consumer': 'executed'}
  assert {t.state for t in run_spec(spec, enable_caching=False).tasks.values()} == {'executed'}


def _unsupported(spec, feature):
  spec = copy.deepcopy(spec)
  task = spec['root']['dag']['tasks']['a_consumer']
  if feature == 'importer':
    spec['deploymentSpec']['executors']['consumer'] = {'importer': {
        'artifactUri': {'constant': {'stringValue': 'gs://b/x'}}, 'typeSchema': DATASET}}
  elif feature == 'resolver':
    spec['deploymentSpec']['executors']['consumer'] = {'resolver': {'outputArtifactQueries': {
        'data': {'filter': 'schema_title="system.Dataset"', 'limit': 1}}}}
  elif feature == 'condition':
    task['triggerPolicy'] = {'condition': "inputs.parameter_values['fail'] == false"}
  elif feature == 'loop':
    task['parameterIterator'] = {'itemInput': 'item', 'items': {'raw': '[1, 2]'}}
  elif feature == 'nested DAG':
    spec['components']['consumer'] = {'dag': {'tasks': {}}}
  return spec


@pytest.mark.parametrize('feature, message', [
    ('importer', r"an executor of kind \['importer'\]"),
    ('resolver', r"an executor of kind \['resolver'\]"),
    ('condition', 'a condition'),
    ('loop', 'a loop'),
    ('nested DAG', 'a nested DAG'),
])
def test_what_it_cannot_run_is_refused_before_anything_runs(tiny, tmp_path, feature, message):
  spec, run_spec = tiny
  with pytest.raises(ValueError, match=f'task a_consumer needs {message}'):
    run_spec(_unsupported(spec, feature))
  assert not (tmp_path / 'root').exists()


def test_an_undeclared_dependency_is_refused(tiny):
  spec, run_spec = tiny
  spec['root']['dag']['tasks']['a_consumer']['dependentTasks'] = []
  with pytest.raises(ValueError, match='a_consumer reads parameter size of z_producer, but '
                                       'does not depend on it'):
    run_spec(spec)


def test_a_remote_root_holds_the_artifacts_and_a_local_work_dir_the_launchers_files(tmp_path):
  spec = tiny_spec()
  del spec['root']['dag']['tasks']['a_consumer']
  spec['deploymentSpec']['executors']['producer']['container']['command'][-1] = ENV_REPORTER
  package = _write(spec, tmp_path / 'tiny.yaml')
  with pytest.raises(ValueError, match='the pipeline root s3://bucket/root is remote: give a '
                                       'local work_dir'):
    kfp_launcher.run_package(package, pipeline_root='s3://bucket/root')
  work_dir = tmp_path / 'pod'
  env = {'S3_ENDPOINT': 'http://127.0.0.1:9000', 'HOME': str(tmp_path / 'home')}
  run = kfp_launcher.run_package(package, pipeline_root='s3://bucket/root',
                                 work_dir=str(work_dir), env=env, run_id='run-1')
  assert run.root == 's3://bucket/root/tiny/run-1'
  producer = run.tasks['z_producer']
  assert producer.state == 'executed'
  assert producer.parameters == {'size': 1.0, 'tag': 't'}
  # The pod's variables reach the container, over the image's (HOME).
  data = producer.artifacts['data']
  assert data['metadata'] == {'endpoint': 'http://127.0.0.1:9000', 'home': str(tmp_path / 'home'),
                              'display_name': 'data'}
  task_dir = os.path.dirname(producer.log_path)
  task_id = os.path.relpath(task_dir, work_dir / 'tiny' / 'run-1')
  assert os.path.dirname(task_id) == 'z_producer'
  assert data['uri'] == f's3://bucket/root/tiny/run-1/{task_id}/data'
  assert sorted(os.listdir(task_dir)) == ['executor-logs', 'output_metadata.json', 'outputs']
  again = kfp_launcher.run_package(package, pipeline_root='s3://bucket/root',
                                   work_dir=str(work_dir), env=env)
  assert again.tasks['z_producer'].state == 'cached'
  assert again.tasks['z_producer'].artifacts == producer.artifacts
  assert len(os.listdir(work_dir / 'tiny' / 'cache')) == 1


@pytest.fixture(scope='module')
def package_runs(tmp_path_factory):
  """The project's package, compiled as kubeflow_runner.py does (run-time parameters
  defaulting to the compile-time values), run twice against one serving directory
  on tiny data, then once more with a stricter SSIM gate given as a run parameter."""
  root = tmp_path_factory.mktemp('kfp_package')
  serving_dir = str(root / 'serving')
  data_dir = root / 'data'
  conftest.write_dataset(data_dir / 'span-1', N_TRAIN, N_EVAL, seed=1)
  compiled = dict(PACKAGE_VALUES, data_dir=str(data_dir))
  pipeline = pipeline_lib.create_pipeline(
      pipeline_root=str(root / 'pipeline_root'), serving_dir=serving_dir,
      data_validation=False,
      **kubeflow.runtime_parameters(compiled))
  package = kubeflow.compile_pipeline(pipeline, IMAGE, str(root / 'denoise.yaml'))
  runs = [kfp_launcher.run_package(package) for _ in range(2)]
  runs.append(kfp_launcher.run_package(package, parameters={'min_ssim': 0.999}))
  return serving_dir, runs, data_dir, package


@pytest.fixture(scope='module')
def span_runs(package_runs):
  """The same package, never recompiled, as a schedule runs it while data arrives.

  {name: (RunResult, newest deployed version before it)}: span 2 added,
  span 2 rewritten in place (the parameters of the first runs: the
  schedule's), then both spans (spans=2). The same data again after a push
  is the package's second run.
  """
  serving_dir, _, data_dir, package = package_runs
  runs = {}

  def run(name, **parameters):
    deployed = serving_dir_lib.latest_version(serving_dir)
    runs[name] = (kfp_launcher.run_package(package, parameters=parameters), deployed)

  conftest.write_dataset(data_dir / 'span-2', N_TRAIN, N_EVAL, seed=2)
  run('span 2')
  path = data_dir / 'span-2' / 'train-images-idx3-ubyte.gz'
  times = os.stat(path)
  images, _ = conftest.make_images(N_TRAIN, seed=3)
  idx.write_idx(str(path), images)
  os.utime(path, ns=(times.st_atime_ns, times.st_mtime_ns))
  run('span 2 rewritten')
  run('spans 1 and 2', spans=2)
  return runs


def _report(run):
  """What DenoiseReport read from its inputs' metadata: blessing, push, deployed version."""
  with open(os.path.join(run.tasks['DenoiseReport'].artifacts['report']['uri'],
                         'metrics.json')) as f:
    metrics = json.load(f)
  return {key: metrics[key] for key in ('blessed', 'pushed', 'push_reason', 'pushed_model_dir',
                                        'baseline_version')}


def test_package_runs_every_task_and_pushes_a_blessed_model(package_runs):
  serving_dir, (first, _, _), _, _ = package_runs
  assert set(first.tasks) == PACKAGE_TASKS
  assert {task.state for task in first.tasks.values()} == {'executed'}
  assert first.tasks['DeployedModelBaseline'].artifacts['baseline_model']['metadata'][
      'deployed_version'] == ''  # Nothing deployed yet.
  assert first.tasks['Evaluator'].artifacts['blessing']['metadata']['blessed'] == 1.0
  pushed = first.tasks['DenoisePusher'].artifacts['pushed_model']['metadata']
  assert (pushed['pushed'], pushed['reason']) == (1.0, 'blessed')
  [version] = serving_dir_lib.versions(serving_dir)
  version_dir = os.path.join(serving_dir, version)
  assert (pushed['pushed_version'], pushed['pushed_destination']) == (version, version_dir)
  model_uri = first.tasks['Trainer'].artifacts['model']['uri']
  assert serving_dir_lib.read_push_metadata(version_dir)['model_uri'] == model_uri
  assert model_uri.startswith(os.path.join(first.root, 'Trainer') + os.sep)
  serve = tf.saved_model.load(version_dir).signatures['serving_default']
  denoised = serve(images=tf.fill([2, 28, 28, 1], 0.5))[features.SERVING_OUTPUT_KEY]
  assert denoised.shape == (2, 28, 28, 1)
  assert _report(first) == {'blessed': True, 'pushed': True, 'push_reason': 'blessed',
                            'pushed_model_dir': version_dir, 'baseline_version': None}


def test_second_run_reuses_the_cache_evaluates_against_the_push_and_pushes_nothing(
    package_runs):
  serving_dir, (first, second, _), _, _ = package_runs
  states = {name: task.state for name, task in second.tasks.items()}
  assert states == {name: 'cached' if name in CACHED_ON_RERUN else 'executed'
                    for name in PACKAGE_TASKS}
  assert second.tasks['Trainer'].artifacts == first.tasks['Trainer'].artifacts
  [version] = serving_dir_lib.versions(serving_dir)
  assert second.tasks['DeployedModelBaseline'].artifacts['baseline_model']['metadata'][
      'deployed_version'] == version
  assert second.tasks['Evaluator'].artifacts['blessing']['metadata']['blessed'] == 1.0
  pushed = second.tasks['DenoisePusher'].artifacts['pushed_model']['metadata']
  assert pushed['pushed'] == 0.0
  assert pushed['reason'] == f'already deployed as version {version}: not pushed again'
  assert _report(second) == {'blessed': True, 'pushed': False, 'push_reason': pushed['reason'],
                             'pushed_model_dir': None, 'baseline_version': version}


def test_a_gate_given_as_a_run_parameter_decides_differently_without_recompiling(
    package_runs):
  serving_dir, (_, second, strict), _, _ = package_runs
  states = {name: task.state for name, task in strict.tasks.items()}
  # Only what the gate feeds runs again: the model is the cached one.
  assert states['Trainer'] == 'cached' and states['Evaluator'] == 'executed'
  assert strict.tasks['Trainer'].artifacts == second.tasks['Trainer'].artifacts
  assert strict.tasks['Evaluator'].artifacts['blessing']['metadata']['blessed'] == 0.0
  pushed = strict.tasks['DenoisePusher'].artifacts['pushed_model']['metadata']
  assert pushed['pushed'] == 0.0
  assert pushed['reason'].startswith('not blessed: denoised_ssim ')
  assert 'below the threshold 0.9990' in pushed['reason']
  assert len(serving_dir_lib.versions(serving_dir)) == 1


def _schema_title(artifact_type):
  return (artifact_type.get('schemaTitle') or
          yaml.safe_load(artifact_type['instanceSchema'])['title'])


def test_the_kfp_ui_outputs_are_a_metrics_artifact_and_one_html_file(package_runs):
  _, (first, _, _), _, _ = package_runs
  report = first.tasks['DenoiseReport'].artifacts
  assert _schema_title(report['metrics']['type']) == 'system.Metrics'
  assert report['metrics']['metadata']['blessed'] == 1.0
  assert report['metrics']['metadata']['psnr'] > report['metrics']['metadata']['noisy_psnr']
  html = report['html_report']
  assert _schema_title(html['type']) == 'system.HTML' and os.path.isfile(html['uri'])
  with open(html['uri']) as f:
    page = f.read()
  assert page.lstrip().lower().startswith('<!doctype html') and 'data:image/png;base64,' in page


# ---------------------------------------------------------------- continuous training

INGESTION_NOISE_TRAINING = {'FashionMnistExampleGen', 'NoiseAugmenter', 'Trainer'}


def _executed(run):
  return {name for name, task in run.tasks.items() if task.state == 'executed'}


def _spans(run):
  """(span numbers, input fingerprint) the run's examples hold, as their metadata."""
  metadata = run.tasks['FashionMnistExampleGen'].artifacts['examples']['metadata']
  return metadata['span_numbers'], metadata['input_fingerprint']


def _base_model_dir(run):
  return os.path.join(run.tasks['WarmStartModel'].artifacts['base_model']['uri'], 'Format-Serving')


def _warm_start(run):
  return run.tasks['WarmStartModel'].artifacts['base_model']['metadata']['deployed_version']


def test_package_first_runs_found_span_1_and_the_run_after_the_push_trained_nothing(
    package_runs):
  _, (first, second, _), _, _ = package_runs
  assert _spans(first)[0] == '1' and _warm_start(first) == ''
  assert not INGESTION_NOISE_TRAINING & _executed(second)
  assert _executed(second) >= {'DataSpans', 'DeployedModelBaseline'}


def test_package_ingests_a_new_span_alone_and_trains_from_the_deployed_weights(
    span_runs, package_runs):
  serving_dir = package_runs[0]
  run, deployed = span_runs['span 2']
  assert INGESTION_NOISE_TRAINING <= _executed(run)
  assert _spans(run)[0] == '2'
  assert run.tasks['FashionMnistExampleGen'].artifacts['examples']['metadata'][
      'train_examples'] == N_TRAIN
  assert _warm_start(run) == deployed
  with open(run.tasks['Trainer'].log_path) as f:
    assert f'Initial weights: {_base_model_dir(run)}' in f.read()
  pushed = run.tasks['DenoisePusher'].artifacts['pushed_model']['metadata']
  assert pushed['pushed'] == 1.0
  record = serving_dir_lib.read_push_metadata(pushed['pushed_destination'])
  assert (record['span_numbers'], record['warm_started_from']) == ([2], deployed)
  assert record['input_fingerprint'] == _spans(run)[1]
  assert pushed['pushed_destination'].startswith(serving_dir)


def test_package_sees_a_span_rewritten_in_place(span_runs):
  (span_2, _), (rewritten, deployed) = span_runs['span 2'], span_runs['span 2 rewritten']
  assert INGESTION_NOISE_TRAINING <= _executed(rewritten)
  assert _spans(rewritten)[0] == '2' and _spans(rewritten)[1] != _spans(span_2)[1]
  assert _warm_start(rewritten) == deployed


def test_package_spans_parameter_trains_on_both(span_runs):
  both, _ = span_runs['spans 1 and 2']
  assert INGESTION_NOISE_TRAINING <= _executed(both)
  assert _spans(both)[0] == '1,2'
  assert both.tasks['FashionMnistExampleGen'].artifacts['examples']['metadata'][
      'train_examples'] == 2 * N_TRAIN


# ---------------------------------------------------------------- data validation

def test_package_with_data_validation_stops_at_the_gate_naming_the_anomaly(tmp_path):
  """A span whose training images are inverted (its eval images are not): the skew
  check, eval against train, stops the run in its DataGate task, before the noise."""
  data_dir = tmp_path / 'data'
  conftest.write_faulty_span(data_dir / 'span-1', 'inverted', N_TRAIN, N_EVAL)
  conftest.write_dataset(tmp_path / 'clean', N_TRAIN, N_EVAL, seed=31)
  for stem in data_sources.FILE_STEMS[features.EVAL_SPLIT]:
    shutil.copy(tmp_path / 'clean' / f'{stem}.gz', data_dir / 'span-1' / f'{stem}.gz')
  pipeline = pipeline_lib.create_pipeline(
      pipeline_root=str(tmp_path / 'pipeline_root'), serving_dir=str(tmp_path / 'serving'),
      schema_file=schema_lib.IMAGE_SCHEMA_FILE,
      **kubeflow.runtime_parameters(dict(PACKAGE_VALUES, data_dir=str(data_dir))))
  package = kubeflow.compile_pipeline(pipeline, IMAGE, str(tmp_path / 'denoise.yaml'))
  with pytest.raises(kfp_launcher.TaskFailedError, match='task DataGate failed') as failure:
    kfp_launcher.run_package(package)
  with open(failure.value.log_path) as f:
    log = f.read()
  assert re.search(r'DataAnomaliesError: data validation found 1 anomaly, nothing trains on '
                   r'this data: skew of eval from train \(SplitPair-eval_train\): image: '
                   r'Jensen-Shannon divergence [\d.e-]+ above the threshold 0.01', log), log[-3000:]
  ran = {os.path.basename(os.path.dirname(os.path.dirname(d))) for d in glob.glob(os.path.join(
      str(tmp_path / 'pipeline_root'), configs.PIPELINE_NAME, '*', '*', '*', 'executor-logs'))}
  assert 'DataGate' in ran and not ran & {'NoiseAugmenter', 'Trainer', 'DenoisePusher'}
  assert not os.path.exists(tmp_path / 'serving')
