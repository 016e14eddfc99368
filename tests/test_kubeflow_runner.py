"""kubeflow_runner.py and pipeline/kubeflow.py: the compiled package, and submission.

No Kubeflow cluster is reachable here: packages are checked with the
kfp-pipeline-spec protobufs, submission against a fake kfp.Client.
"""
import importlib
import inspect
import json
import os
import re
import subprocess
import sys
import types

from absl.testing import flagsaver
from google.protobuf import json_format
from kfp.pipeline_spec import pipeline_spec_pb2
import kfp
import pytest
from tfx import types as tfx_types
from tfx.orchestration.kubeflow.v2 import compiler_utils
from tfx.utils import import_utils
import yaml

from pipeline import configs
from pipeline import kubeflow
from pipeline import pipeline as pipeline_lib
from tests import conftest

IMAGE = 'registry.example.com/denoise-pipeline:test'
ROOT = 'gs://test-bucket/denoise'
GPU = 'nvidia.com/gpu'
# Each task and the tasks it waits for, as the data flows in create_pipeline().
UPSTREAM = {
    'DataSpans': set(),
    'FashionMnistExampleGen': {'DataSpans'},
    'ImportSchemaGen': set(),
    'StatisticsGen': {'FashionMnistExampleGen', 'ImportSchemaGen'},
    'ExampleValidator': {'StatisticsGen', 'ImportSchemaGen'},
    'DeployedStatistics': {'StatisticsGen'},
    'DriftValidator': {'StatisticsGen', 'DeployedStatistics'},
    'SkewValidator': {'StatisticsGen'},
    'DataGate': {'ExampleValidator', 'DriftValidator', 'SkewValidator'},
    # An ordering, not an input: nothing learns from data the gate refused.
    'NoiseAugmenter': {'FashionMnistExampleGen', 'DataGate'},
    'TrainingHyperparameters': set(),
    'WarmStartModel': {'DataSpans'},
    'Trainer': {'NoiseAugmenter', 'TrainingHyperparameters', 'WarmStartModel'},
    'DeployedModelBaseline': {'Trainer', 'NoiseAugmenter'},
    'Evaluator': {'NoiseAugmenter', 'Trainer', 'DeployedModelBaseline'},
    'DenoisePusher': {'Trainer', 'Evaluator', 'DeployedModelBaseline', 'NoiseAugmenter',
                      'TrainingHyperparameters', 'WarmStartModel', 'StatisticsGen'},
    'DenoiseReport': {'NoiseAugmenter', 'Trainer', 'DeployedModelBaseline', 'Evaluator',
                      'DenoisePusher'},
}
UNCACHED = {'DeployedModelBaseline', 'DeployedStatistics', 'DataSpans'}
REAL_CLIENT = kfp.Client


# Compile-time values of the run-time parameters: the flags' defaults but a
# data directory and 3 epochs, to tell them from the defaults.
COMPILED = dict(data_dir='gs://data/fashion-mnist', spans=1, warm_start=True,
                train_examples=0, eval_examples=0,
                noise_factor=0.2, model='tutorial', epochs=3, batch_size=32,
                learning_rate=0.001, min_psnr_gain_db=3.0, min_ssim=0.65,
                max_psnr_drop_db=0.1, max_ssim_drop=0.005)


def _compile(package_path, gpus=2, **kwargs):
  """Compiles as kubeflow_runner.py does, with 2 GPUs to tell the count from the default."""
  pipeline = pipeline_lib.create_pipeline(
      pipeline_root=ROOT, serving_dir=f'{ROOT}/{configs.SERVING_DIR_NAME}',
      trainer_platform_config=kubeflow.trainer_resources(4.0, 16.0, gpus, GPU),
      **kubeflow.runtime_parameters(COMPILED), **kwargs)
  return kubeflow.compile_pipeline(pipeline, IMAGE, str(package_path))


def _load(package_path):
  """(PipelineSpec, {task name: ExecutorSpec}) of a package."""
  with open(package_path) as f:
    document = yaml.safe_load(f)
  spec = json_format.ParseDict(document, pipeline_spec_pb2.PipelineSpec())
  deployment = json_format.ParseDict(json_format.MessageToDict(spec.deployment_spec),
                                     pipeline_spec_pb2.PipelineDeploymentConfig())
  executors = {name: deployment.executors[spec.components[task.component_ref.name].executor_label]
               for name, task in spec.root.dag.tasks.items()}
  return spec, executors


def _arg(container, name):
  return container.args[list(container.args).index(name) + 1]


@pytest.fixture(scope='module')
def package(tmp_path_factory):
  path = _compile(tmp_path_factory.mktemp('kfp') / 'denoise.yaml')
  return (path, *_load(path))


def test_package_is_a_schema_2_1_pipeline_spec(package):
  path, spec, _ = package
  with open(path) as f:
    text = f.read()
  # A PipelineSpec (what KFP uploads), not a PipelineJob wrapping one.
  assert 'pipelineSpec' not in yaml.safe_load(text)
  assert text.startswith('# PIPELINE DEFINITION\n# Name: denoise-pipeline\n')
  assert spec.schema_version == '2.1.0'
  assert spec.pipeline_info.name == configs.PIPELINE_NAME
  assert re.fullmatch(r'[a-z0-9][a-z0-9-.]*', spec.pipeline_info.name)
  assert len(spec.pipeline_info.name) <= 63
  assert spec.default_pipeline_root == ROOT


def test_every_component_waits_for_its_inputs(package):
  _, spec, _ = package
  tasks = spec.root.dag.tasks
  assert {name: set(task.dependent_tasks) for name, task in tasks.items()} == UPSTREAM


def test_every_executor_runs_the_image_and_none_is_a_resolver(package):
  path, _, executors = package
  with open(path) as f:
    assert 'resolver' not in f.read().lower()
  for name, executor in executors.items():
    assert executor.WhichOneof('spec') == 'container', name
    assert executor.container.image == IMAGE, name
    assert executor.container.command == ['python', '-m', 'pipeline.container_entrypoint'], name
    # The container imports the executor by this path: it must exist in the image's code.
    executor_class = import_utils.import_class_by_path(
        _arg(executor.container, '--executor_class_path'))
    assert 'resolver' not in executor_class.__module__, name


def test_trainer_alone_requests_the_gpus(package, tmp_path):
  _, _, executors = package
  resources = executors['Trainer'].container.resources
  assert (resources.accelerator.type, resources.accelerator.count) == (GPU, 2)
  assert (resources.cpu_limit, resources.memory_limit) == (4.0, 16.0)
  assert [name for name, e in executors.items() if e.container.HasField('resources')] == [
      'Trainer']

  _, cpu_executors = _load(_compile(tmp_path / 'cpu.yaml', gpus=0))
  cpu_resources = cpu_executors['Trainer'].container.resources
  assert not cpu_resources.HasField('accelerator')
  assert (cpu_resources.cpu_limit, cpu_resources.memory_limit) == (4.0, 16.0)


def test_the_baseline_and_the_spans_alone_are_never_cached(package, tmp_path):
  _, spec, _ = package
  caching = {name: task.caching_options.enable_cache
             for name, task in spec.root.dag.tasks.items()}
  assert caching == {name: name not in UNCACHED for name in UPSTREAM}

  spec, _ = _load(_compile(tmp_path / 'uncached.yaml', enable_cache=False))
  assert not any(task.caching_options.enable_cache for task in spec.root.dag.tasks.values())


def test_what_an_operator_changes_per_run_is_a_pipeline_parameter(package):
  _, spec, _ = package
  parameter_type = pipeline_spec_pb2.ParameterType.ParameterTypeEnum
  declared = {name: (parameter_type.Name(p.parameter_type), json_format.MessageToDict(
                  p.default_value), p.is_optional)
              for name, p in spec.root.input_definitions.parameters.items()}
  assert declared == {
      'data_dir': ('STRING', 'gs://data/fashion-mnist', True),
      'spans': ('NUMBER_INTEGER', 1, True),
      'warm_start': ('NUMBER_INTEGER', 1, True),
      'train_examples': ('NUMBER_INTEGER', 0, True),
      'eval_examples': ('NUMBER_INTEGER', 0, True),
      'noise_factor': ('NUMBER_DOUBLE', 0.2, True),
      'model': ('STRING', 'tutorial', True),
      'epochs': ('NUMBER_INTEGER', 3, True),
      'batch_size': ('NUMBER_INTEGER', 32, True),
      'learning_rate': ('NUMBER_DOUBLE', 0.001, True),
      'min_psnr_gain_db': ('NUMBER_DOUBLE', 3.0, True),
      'min_ssim': ('NUMBER_DOUBLE', 0.65, True),
      'max_psnr_drop_db': ('NUMBER_DOUBLE', 0.1, True),
      'max_ssim_drop': ('NUMBER_DOUBLE', 0.005, True),
  }
  # Each task reads its parameters from the run, not from a compiled constant.
  consumers = {'DataSpans': {'data_dir', 'spans', 'warm_start', 'model'},
               'FashionMnistExampleGen': {'train_examples', 'eval_examples'},
               'NoiseAugmenter': {'noise_factor'},
               'TrainingHyperparameters': {'model', 'epochs', 'batch_size', 'learning_rate'},
               'Evaluator': {'min_psnr_gain_db', 'min_ssim', 'max_psnr_drop_db',
                             'max_ssim_drop'}}
  for task, names in consumers.items():
    inputs = spec.root.dag.tasks[task].inputs.parameters
    assert {name: inputs[name].component_input_parameter for name in names} == {
        name: name for name in names}, task
  # What DataSpans resolves at run time reaches its consumers as parameters,
  # from the task that exists (TFX 1.16 names it '<id>_task'): KFP caches by value.
  for task, key in (('FashionMnistExampleGen', 'input_spans'),
                    ('WarmStartModel', 'warm_start_version')):
    source = spec.root.dag.tasks[task].inputs.parameters[key].task_output_parameter
    assert (source.producer_task, source.output_parameter_key) == ('DataSpans', key)


def test_param_overrides_are_typed_and_checked_before_submission():
  assert kubeflow.parse_param_overrides(
      ['epochs=5', 'min_ssim=0.9', 'data_dir=gs://other', 'model=unet'], COMPILED) == {
          'epochs': 5, 'min_ssim': 0.9, 'data_dir': 'gs://other', 'model': 'unet'}
  for assignment, message in (
      ('seed=3', r"--param 'seed=3': use NAME=VALUE with NAME one of data_dir, "),
      ('epochs', "--param 'epochs': use NAME=VALUE"),
      ('epochs=2.5', '--param epochs=2.5: epochs takes an integer'),
      ('epochs=0', 'epochs must be an integer >= 1, got 0'),
      ('min_ssim=1.5', r'min_ssim must be in \[-1, 1\], got 1.5'),
      ('noise_factor=-0.1', 'noise_factor must be finite and >= 0'),
      ('train_examples=-1', 'train_examples must be an integer >= 0'),
      ('model=resnet', 'model must be one of tutorial, unet'),
      ('spans=0', 'spans must be an integer >= 1, got 0'),
      ('warm_start=2', 'warm_start must be 0 or 1, got 2'),
      ('max_ssim_drop=-1', 'max_ssim_drop must be >= 0'),
      ('noise_factor=0', 'noise_factor=0: the input is the clean image')):
    with pytest.raises(ValueError, match=message):
      kubeflow.parse_param_overrides([assignment], COMPILED)


def test_trainer_imports_run_fn_from_the_image(package):
  path, spec, _ = package
  with open(path) as f:
    text = f.read()
  assert '_wheels' not in text and 'module_file' not in text
  run_fn = spec.root.dag.tasks['Trainer'].inputs.parameters['run_fn'].runtime_value.constant
  assert run_fn.string_value == pipeline_lib.TRAINER_RUN_FN
  module, name = run_fn.string_value.rsplit('.', 1)
  assert callable(getattr(importlib.import_module(module), name))


def test_artifact_types_resolve_in_the_container(package):
  """The container imports each artifact class by its schema title."""
  _, spec, _ = package
  titles = {yaml.safe_load(artifact.artifact_type.instance_schema)['title']
            for component in spec.components.values()
            for definitions in (component.input_definitions, component.output_definitions)
            for artifact in definitions.artifacts.values()}
  assert 'tfx.Model' in titles
  for title in titles:
    # As tfx.orchestration.kubeflow.v2.container.kubeflow_v2_entrypoint_utils does.
    artifact_class = import_utils.import_class_by_path(
        compiler_utils.TITLE_TO_CLASS_PATH.get(title, title))
    if title not in compiler_utils.TITLE_TO_CLASS_PATH:
      assert artifact_class.TYPE_NAME == title


def test_report_outputs_are_the_types_the_kfp_ui_renders(package):
  """The KFP UI shows a system.Metrics artifact's metadata and a system.HTML artifact's file."""
  _, spec, _ = package
  report_task = spec.root.dag.tasks['DenoiseReport']
  outputs = spec.components[report_task.component_ref.name].output_definitions.artifacts
  titles = {key: yaml.safe_load(artifact.artifact_type.instance_schema)['title']
            for key, artifact in outputs.items()}
  assert titles == {'report': 'artifact_types.DenoiseReportArtifact',
                    'metrics': 'system.Metrics', 'html_report': 'system.HTML'}
  # Imported in the container from this repository's system.py, which the image's
  # PYTHONPATH puts before site-packages.
  html_class = import_utils.import_class_by_path(titles['html_report'])
  assert inspect.getfile(html_class) == os.path.join(conftest.ROOT, 'system.py')
  # A value artifact: its URI is the page itself, the one file the UI reads.
  assert issubclass(html_class, tfx_types.ValueArtifact)


def test_bad_names_paths_and_resources_are_refused(tmp_path):
  for name in ('denoise_pipeline', 'Denoise', '-denoise', 'd' * 64):
    with pytest.raises(ValueError, match='does not fit Kubeflow Pipelines'):
      kubeflow.validate_pipeline_name(name)
  kubeflow.validate_pipeline_name('d' * 63)
  with pytest.raises(ValueError, match=r'\.yaml'):
    _compile(tmp_path / 'denoise.json')
  assert not os.listdir(tmp_path)
  with pytest.raises(ValueError, match='gpus must be >= 0'):
    kubeflow.trainer_resources(4.0, 16.0, -1, GPU)


def test_submission_flags_are_checked():
  with pytest.raises(ValueError, match='--run needs --endpoint'):
    kubeflow.check_submission(True, None, None)
  with pytest.raises(ValueError, match='--cron needs --endpoint'):
    kubeflow.check_submission(False, '0 0 3 * * *', '')
  with pytest.raises(ValueError, match='choose one'):
    kubeflow.check_submission(True, '0 0 3 * * *', 'http://kfp')
  with pytest.raises(ValueError, match=r"--cron needs 6 fields .* got 5 in '0 3 \* \* \*'"):
    kubeflow.check_submission(False, '0 3 * * *', 'http://kfp')
  kubeflow.check_submission(False, '0 0 3 * * *', 'http://kfp')
  kubeflow.check_submission(False, None, None)


class FakeClient:
  """Records calls; each must bind to the real kfp.Client method's signature."""

  def __init__(self, host=None):
    self.host = host
    self.calls = []

  def _record(self, method, *args, **kwargs):
    bound = inspect.signature(getattr(REAL_CLIENT, method)).bind(self, *args, **kwargs)
    self.calls.append((method, {k: v for k, v in bound.arguments.items() if k != 'self'}))

  def create_experiment(self, *args, **kwargs):
    self._record('create_experiment', *args, **kwargs)
    return types.SimpleNamespace(experiment_id='experiment-7')

  def create_run_from_pipeline_package(self, *args, **kwargs):
    self._record('create_run_from_pipeline_package', *args, **kwargs)
    return types.SimpleNamespace(run_id='run-1')

  def create_recurring_run(self, *args, **kwargs):
    self._record('create_recurring_run', *args, **kwargs)
    return types.SimpleNamespace(recurring_run_id='recurring-1')


@pytest.fixture
def run_cli(monkeypatch):
  """Runs kubeflow_runner.main() in-process on argv; returns the fake clients made."""
  import kubeflow_runner  # pylint: disable=g-import-not-at-top
  clients = []

  def make_client(host=None):
    clients.append(FakeClient(host))
    return clients[-1]

  monkeypatch.setattr(kfp, 'Client', make_client)

  def run(*argv):
    with flagsaver.flagsaver():
      kubeflow_runner.FLAGS(['kubeflow_runner.py', *argv])
      kubeflow_runner.main([])
    return clients

  run.clients = clients
  return run


def test_run_uploads_the_package_into_the_experiment(run_cli, tmp_path, capsys):
  output = str(tmp_path / 'denoise.yaml')
  clients = run_cli(f'--image={IMAGE}', f'--pipeline_root={ROOT}', f'--output={output}',
                    '--run', '--endpoint=http://kfp:8888', '--experiment=nightly',
                    '--run_name=try-1', '--gpus=0', '--epochs=3', '--seed=7',
                    '--param=min_ssim=0.8', '--param=epochs=4')
  [client] = clients
  assert client.host == 'http://kfp:8888'
  assert client.calls == [
      ('create_experiment', {'name': 'nightly'}),
      ('create_run_from_pipeline_package', {
          'pipeline_file': output, 'arguments': {'min_ssim': 0.8, 'epochs': 4},
          'run_name': 'try-1', 'experiment_id': 'experiment-7', 'pipeline_root': ROOT})]
  assert 'Run run-1 in experiment' in capsys.readouterr().out
  # The flags reached the package: as parameter defaults, or compiled in.
  spec, executors = _load(output)
  assert executors['Trainer'].container.image == IMAGE
  assert not executors['Trainer'].container.resources.HasField('accelerator')
  parameters = spec.root.input_definitions.parameters
  assert parameters['epochs'].default_value.number_value == 3
  assert parameters['data_dir'].default_value.string_value == ''  # Resolved in the container.
  trainer_inputs = spec.root.dag.tasks['Trainer'].inputs.parameters
  assert json.loads(trainer_inputs['custom_config'].runtime_value.constant.string_value)[
      'seed'] == 7
  # The curated schema as the image holds it, relative to its working directory.
  schema_inputs = spec.root.dag.tasks['ImportSchemaGen'].inputs.parameters
  assert schema_inputs['schema_file'].runtime_value.constant.string_value == (
      'components/schema/schema.pbtxt')
  baseline_inputs = spec.root.dag.tasks['DeployedModelBaseline'].inputs.parameters
  assert (baseline_inputs['serving_dir'].runtime_value.constant.string_value ==
          f'{ROOT}/{configs.SERVING_DIR_NAME}')


def test_cron_creates_a_recurring_run(run_cli, tmp_path, capsys):
  output = str(tmp_path / 'denoise.yaml')
  clients = run_cli(f'--image={IMAGE}', f'--pipeline_root={ROOT}', f'--output={output}',
                    '--cron=0 0 3 * * *', '--endpoint=http://kfp:8888',
                    '--param=noise_factor=0.3')
  [client] = clients
  assert client.calls == [
      ('create_experiment', {'name': configs.PIPELINE_NAME}),
      ('create_recurring_run', {
          'experiment_id': 'experiment-7', 'job_name': f'{configs.PIPELINE_NAME} 0 0 3 * * *',
          'cron_expression': '0 0 3 * * *', 'max_concurrency': 1, 'no_catchup': True,
          'params': {'noise_factor': 0.3}, 'pipeline_package_path': output,
          'pipeline_root': ROOT})]
  assert 'Recurring run recurring-1' in capsys.readouterr().out


def test_s3_locations_compile_into_the_package(run_cli, tmp_path):
  # AWS S3, or MinIO: the endpoint and credentials are the components' environment.
  output = str(tmp_path / 'denoise.yaml')
  run_cli(f'--image={IMAGE}', '--pipeline_root=s3://bucket/denoise',
          '--data_dir=s3://bucket/fashion-mnist',
          f'--output={output}', '--run', '--endpoint=http://kfp:8888',
          '--param=data_dir=s3://bucket/other')
  [client] = run_cli.clients
  assert client.calls[1][1]['pipeline_root'] == 's3://bucket/denoise'
  assert client.calls[1][1]['arguments'] == {'data_dir': 's3://bucket/other'}
  spec, _ = _load(output)
  assert spec.default_pipeline_root == 's3://bucket/denoise'
  assert (spec.root.input_definitions.parameters['data_dir'].default_value.string_value ==
          's3://bucket/fashion-mnist')
  baseline_inputs = spec.root.dag.tasks['DeployedModelBaseline'].inputs.parameters
  assert (baseline_inputs['serving_dir'].runtime_value.constant.string_value ==
          f's3://bucket/denoise/{configs.SERVING_DIR_NAME}')


@pytest.mark.parametrize('argv, message', [
    (['--cron=0 3 * * *', '--endpoint=http://kfp'], '--cron needs 6 fields'),
    (['--run'], '--run needs --endpoint'),
    (['--param=epochs=2'], '--param sets a value for --run or --cron'),
    (['--serving_dir=minio://mlpipeline/serving'],
     '--serving_dir minio://mlpipeline/serving: the pipeline image cannot read or write'),
    (['--run', '--endpoint=http://kfp', '--param=data_dir=s3a://bucket/data'],
     '--param data_dir s3a://bucket/data: the pipeline image cannot read or write s3a://'),
    (['--run', '--endpoint=http://kfp', '--param=min_ssim=2'], 'min_ssim must be in'),
])
def test_bad_submissions_are_refused_before_compiling(run_cli, tmp_path, argv, message):
  output = tmp_path / 'denoise.yaml'
  with pytest.raises(SystemExit, match=message):
    run_cli(f'--pipeline_root={ROOT}', f'--output={output}', *argv)
  assert not output.exists() and not run_cli.clients


def test_help_lists_the_flags():
  result = subprocess.run([sys.executable, 'kubeflow_runner.py', '--help'], cwd=conftest.ROOT,
                          capture_output=True, text=True, timeout=120, check=False)
  for flag in ('image', 'pipeline_root', 'serving_dir', 'output', 'gpus', 'accelerator',
               'cpu_limit', 'memory_limit', 'endpoint', '[no]run', 'cron', 'experiment',
               'run_name', 'epochs', 'model', 'min_ssim', 'data_dir', 'beam_pipeline_args',
               'param'):
    assert f'--{flag}:' in result.stdout, flag


def test_a_root_the_image_cannot_write_is_refused_before_tensorflow_loads(tmp_path):
  # Kubeflow's default root is minio://, a scheme tf.io.gfile does not know: MinIO is s3://.
  code = ('import sys, runpy; sys.argv = ["kubeflow_runner.py", '
          '"--pipeline_root=minio://mlpipeline/v2/artifacts", "--output=%s"]\n'
          'try:\n  runpy.run_path("kubeflow_runner.py", run_name="__main__")\n'
          'except SystemExit as e:\n  print(e.code)\n'
          'print("tensorflow" in sys.modules)' % (tmp_path / 'p.yaml'))
  result = subprocess.run([sys.executable, '-c', code], cwd=conftest.ROOT,
                          capture_output=True, text=True, timeout=120, check=True)
  message, tensorflow_loaded = result.stdout.strip().rsplit('\n', 1)
  assert message.startswith('error: --pipeline_root minio://mlpipeline/v2/artifacts: the '
                            'pipeline image cannot read or write minio://')
  assert 'Use a local path or gs://BUCKET/..., s3://BUCKET/...; a MinIO bucket is' in message
  assert tensorflow_loaded == 'False'
  assert not (tmp_path / 'p.yaml').exists()


def test_missing_pipeline_root_is_refused(run_cli, tmp_path):
  with pytest.raises(SystemExit, match='--pipeline_root is required'):
    run_cli(f'--output={tmp_path / "p.yaml"}')


def test_every_task_is_retried_with_a_doubling_backoff(package):
  _, spec, _ = package
  for name, task in spec.root.dag.tasks.items():
    policy = task.retry_policy
    assert (policy.max_retry_count, policy.backoff_duration.seconds, policy.backoff_factor,
            policy.backoff_max_duration.seconds) == (
                configs.DEFAULT_RETRIES, configs.DEFAULT_RETRY_BACKOFF_SECONDS, 2.0, 3600), name


def test_the_retry_flags_reach_every_task(run_cli, tmp_path):
  output = str(tmp_path / 'denoise.yaml')
  run_cli(f'--image={IMAGE}', f'--pipeline_root={ROOT}', f'--output={output}', '--retries=5',
          '--retry_backoff=10')
  spec, _ = _load(output)
  assert {(t.retry_policy.max_retry_count, t.retry_policy.backoff_duration.seconds)
          for t in spec.root.dag.tasks.values()} == {(5, 10)}


@pytest.mark.parametrize('argv, message', [
    ([], '--image is required'),
    (['--image=denoise-pipeline:latest'], '--image denoise-pipeline:latest is a mutable reference'),
    (['--image=registry.example.com:5000/denoise-pipeline'],
     '--image registry.example.com:5000/denoise-pipeline is a mutable reference'),
    ([f'--image={IMAGE}', '--retries=-1'], '--retries must be an integer >= 0, got -1'),
    ([f'--image={IMAGE}', '--retry_backoff=4000'], r'--retry_backoff must be in \[0, 3600\]'),
])
def test_a_mutable_image_or_a_bad_retry_policy_is_refused(run_cli, tmp_path, argv, message):
  output = tmp_path / 'denoise.yaml'
  with pytest.raises(SystemExit, match=message):
    run_cli(f'--pipeline_root={ROOT}', f'--output={output}', *argv)
  assert not output.exists()


@pytest.mark.parametrize('argv', [
    ['--image=registry.example.com:5000/denoise-pipeline:3f9c2ab'],
    ['--image=registry.example.com/denoise-pipeline@sha256:' + 'a' * 64],
    ['--image=denoise-pipeline:latest', '--allow_mutable_image'],
    ['--image=denoise-pipeline', '--noenable_cache'],   # nothing reused: nothing stale
])
def test_an_immutable_image_or_a_mutable_one_allowed_compiles(run_cli, tmp_path, argv):
  output = tmp_path / 'denoise.yaml'
  run_cli(f'--pipeline_root={ROOT}', f'--output={output}', *argv)
  _, executors = _load(str(output))
  assert executors['Trainer'].container.image == argv[0].split('=', 1)[1]
