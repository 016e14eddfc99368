"""Kubeflow Pipelines: compiles the pipeline into a package, edits it, submits it (what kubeflow_runner.py does).

Open-source KFP accepts PipelineSpec schema 2.1.0 only, hence
use_pipeline_spec_2_1 and a .yaml package.
"""
import os
import re

from google.protobuf import json_format
from kfp.pipeline_spec import pipeline_spec_pb2
from tfx.orchestration import data_types
from tfx.orchestration.kubeflow.v2 import kubeflow_v2_dag_runner
import yaml

from components.baseline.component import DeployedModelBaseline
from components.data_spans.component import DataSpans
from components.deployed_statistics.component import DeployedStatistics
from components.evaluation import gates
from components.ingestion import spans
from components.model_code import hparams
from components.noise import noise
from pipeline import configs
from pipeline import container_entrypoint
from pipeline import storage

ResourceSpec = pipeline_spec_pb2.PipelineDeploymentConfig.PipelineContainerSpec.ResourceSpec

# Kubernetes object names; the TFX compiler refuses '_', capitals and '.'.
PIPELINE_NAME_PATTERN = re.compile(r'[a-z0-9][a-z0-9-]*')
MAX_PIPELINE_NAME_LENGTH = 63
CRON_FIELDS = ('second', 'minute', 'hour', 'day of month', 'month', 'day of week')
# The retry policy's backoff doubles after each attempt, up to the largest
# backoff the KFP SDK accepts (dsl.PipelineTask.set_retry).
RETRY_BACKOFF_FACTOR = 2.0
RETRY_BACKOFF_MAX_SECONDS = 3600
MUTABLE_TAGS = ('', 'latest')

def runtime_parameters(values):
  """{name: RuntimeParameter} for configs.RUNTIME_PARAMETER_TYPES, defaulting to values[name]."""
  return {name: data_types.RuntimeParameter(name=name, ptype=ptype,
                                            default=ptype(values[name]))
          for name, ptype in configs.RUNTIME_PARAMETER_TYPES.items()}


_TYPE_NAMES = {int: 'an integer', float: 'a number', str: 'a string'}


def _parse_value(name, text):
  ptype = configs.RUNTIME_PARAMETER_TYPES[name]
  try:
    return ptype(text)
  except ValueError:
    raise ValueError(f'--param {name}={text}: {name} takes {_TYPE_NAMES[ptype]}') from None


def parse_param_overrides(assignments, compiled):
  """{name: value} from NAME=VALUE strings, checked as the flags are.

  compiled: the compiled defaults {name: value}; each override is checked
  together with them, so an out-of-range value is refused before submission.
  """
  overrides = {}
  for assignment in assignments:
    name, sep, text = assignment.partition('=')
    if not sep or name not in configs.RUNTIME_PARAMETER_TYPES:
      raise ValueError(f'--param {assignment!r}: use NAME=VALUE with NAME one of '
                       f'{", ".join(configs.RUNTIME_PARAMETER_TYPES)}')
    overrides[name] = _parse_value(name, text)
    if name == 'data_dir' and overrides[name]:
      storage.check_storage_uri(overrides[name], '--param data_dir')
  run = dict(compiled, **overrides)
  hparams.validate_training_params(run['model'], run['epochs'], run['batch_size'],
                                   run['learning_rate'])
  gates.validate_thresholds(run['min_psnr_gain_db'], run['min_ssim'], run['max_psnr_drop_db'],
                            run['max_ssim_drop'])
  gates.check_gates_can_pass(run['noise_factor'])
  noise.validate_noise_params(run['noise_factor'], 0)
  spans.validate_num_spans(run['spans'])
  if run['warm_start'] not in (0, 1):
    raise ValueError(f'warm_start must be 0 or 1, got {run["warm_start"]}')
  for name in ('train_examples', 'eval_examples'):
    if run[name] < 0:
      raise ValueError(f'{name} must be an integer >= 0 (0 = all), got {run[name]}')
  return overrides


def validate_pipeline_name(name):
  if not PIPELINE_NAME_PATTERN.fullmatch(name) or len(name) > MAX_PIPELINE_NAME_LENGTH:
    raise ValueError(
        f'pipeline name {name!r} does not fit Kubeflow Pipelines: use a-z, 0-9 and "-", '
        f'start with a letter or digit, at most {MAX_PIPELINE_NAME_LENGTH} characters')


def validate_cron(cron):
  fields = cron.split()
  if len(fields) != len(CRON_FIELDS):
    raise ValueError(
        f'--cron needs {len(CRON_FIELDS)} fields ({", ".join(CRON_FIELDS)}), e.g. '
        f'"0 0 3 * * *" for 03:00 every day; got {len(fields)} in {cron!r}')


def check_submission(run, cron, endpoint):
  """Refuses inconsistent --run / --cron / --endpoint before anything is compiled."""
  if run and cron:
    raise ValueError('--run starts one run and --cron a recurring run: choose one')
  if (run or cron) and not endpoint:
    raise ValueError(f'--{"cron" if cron else "run"} needs --endpoint, the URL of the '
                     'Kubeflow Pipelines API, e.g. http://localhost:8080')
  if cron:
    validate_cron(cron)


def is_mutable_image(image):
  """Whether an image reference may name other contents tomorrow: ':latest' or no tag, no digest."""
  if '@' in image:   # name@sha256:...
    return False
  name = image.rsplit('/', 1)[-1]   # a registry's ':port' is before the last '/'
  return name.partition(':')[2] in MUTABLE_TAGS


def check_image(image, enable_cache, allow_mutable_image):
  """Refuses a mutable image reference while caching is on, unless allowed.

  KFP's cache keys a task on the image's reference, not on its contents: a
  rebuilt image pushed under the same tag would reuse outputs computed by the
  old code.
  """
  if not image:
    raise ValueError('--image is required: the image every step runs in, with an immutable '
                     'tag, e.g. REGISTRY/denoise-pipeline:$(git rev-parse --short HEAD)')
  if enable_cache and is_mutable_image(image) and not allow_mutable_image:
    raise ValueError(
        f'--image {image} is a mutable reference (":latest" or no tag): with caching on, a '
        'rebuilt image pushed under it would reuse the outputs of the old code. Tag the image '
        'with the git commit (REGISTRY/denoise-pipeline:$(git rev-parse --short HEAD)) or give '
        'its digest (REGISTRY/denoise-pipeline@sha256:...); or pass --allow_mutable_image, '
        'or --noenable_cache')


def retry_policy(retries, backoff_seconds):
  """Every task's retryPolicy (PipelineTaskSpec.RetryPolicy, as JSON)."""
  if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
    raise ValueError(f'--retries must be an integer >= 0, got {retries!r}')
  if not 0 <= backoff_seconds <= RETRY_BACKOFF_MAX_SECONDS:
    raise ValueError(f'--retry_backoff must be in [0, {RETRY_BACKOFF_MAX_SECONDS}] seconds, '
                     f'got {backoff_seconds!r}')
  return {'maxRetryCount': retries, 'backoffDuration': f'{int(backoff_seconds)}s',
          'backoffFactor': RETRY_BACKOFF_FACTOR,
          'backoffMaxDuration': f'{RETRY_BACKOFF_MAX_SECONDS}s'}


def trainer_resources(cpu_limit, memory_limit_gb, gpus, accelerator):
  """The Trainer's container resources; gpus=0 requests no accelerator."""
  if cpu_limit <= 0 or memory_limit_gb <= 0:
    raise ValueError(f'cpu_limit and memory_limit must be > 0, got {cpu_limit}, '
                     f'{memory_limit_gb}')
  if gpus < 0:
    raise ValueError(f'gpus must be >= 0, got {gpus}')
  spec = ResourceSpec(cpu_limit=cpu_limit, memory_limit=memory_limit_gb)
  if gpus:
    if not accelerator:
      raise ValueError('a GPU request needs an accelerator type, e.g. nvidia.com/gpu')
    spec.accelerator.CopyFrom(ResourceSpec.AcceleratorConfig(type=accelerator, count=gpus))
  return spec


def compile_pipeline(pipeline, image, package_path, retries=configs.DEFAULT_RETRIES,
                     retry_backoff_seconds=configs.DEFAULT_RETRY_BACKOFF_SECONDS):
  """Writes the KFP package of a TFX pipeline; returns its path.

  Every task runs `image`, with container_entrypoint.COMMAND (TFX's executor
  entrypoint, with s3:// and an exit tensorflow-io cannot abort), and is
  retried up to `retries` times, the backoff doubling from
  retry_backoff_seconds: every component is safe to re-execute with the
  same output URIs. Tasks of DeployedModelBaseline, DeployedStatistics and
  DataSpans get caching disabled: they read what changes between runs with
  unchanged inputs, the deployed model and the data. RuntimeParameters
  become pipeline parameters with their defaults.
  """
  validate_pipeline_name(pipeline.pipeline_info.pipeline_name)
  if not package_path.endswith('.yaml'):
    raise ValueError(f'the package must be a .yaml file (schema 2.1.0), got {package_path!r}')
  if not image:
    raise ValueError('an image is needed: every component runs in it')
  output_dir, filename = os.path.split(os.path.abspath(package_path))
  runner = kubeflow_v2_dag_runner.KubeflowV2DagRunner(
      config=kubeflow_v2_dag_runner.KubeflowV2DagRunnerConfig(
          default_image=image, default_commands=list(container_entrypoint.COMMAND),
          use_pipeline_spec_2_1=True),
      output_dir=output_dir, output_filename=filename)
  policy = retry_policy(retries, retry_backoff_seconds)
  runner.run(pipeline)
  package_path = os.path.join(output_dir, filename)
  _edit_package(package_path, pipeline.pipeline_info.pipeline_root,
                [c.id for c in pipeline.components
                 if isinstance(c, (DeployedModelBaseline, DeployedStatistics, DataSpans))],
                _parameter_defaults(pipeline), policy)
  return package_path


def _parameter_defaults(pipeline):
  """{name: default} of the RuntimeParameters among the components' properties."""
  return {value.name: value.default
          for component in pipeline.components
          for value in component.exec_properties.values()
          if isinstance(value, data_types.RuntimeParameter)}


def _edit_package(package_path, pipeline_root, uncached_tasks, parameter_defaults, policy):
  """Sets the default pipeline root and parameters, every task's retry policy, and disables
  caching of some tasks, in place."""
  with open(package_path) as f:
    text = f.read()
  # The compiler heads the YAML with a comment summary; keep it.
  header = ''.join(line for line in text.splitlines(keepends=True) if line.startswith('#'))
  spec = yaml.safe_load(text)
  # The YAML holds the PipelineSpec only: the root and the parameter values
  # TFX put in the PipelineJob's runtime config are lost. The KFP UI offers
  # these for new runs and schedules.
  spec['defaultPipelineRoot'] = pipeline_root
  for name, parameter in spec['root'].get('inputDefinitions', {}).get('parameters', {}).items():
    parameter['defaultValue'] = parameter_defaults[name]
    parameter['isOptional'] = True
  tasks = spec['root']['dag']['tasks']
  for task in tasks.values():
    for source in task.get('inputs', {}).get('parameters', {}).values():
      producer = source.get('taskOutputParameter', {})
      # TFX 1.16 names the producer of a `.future()[0].value` parameter
      # '<id>_task', a task that does not exist; it is '<id>'.
      if producer and producer['producerTask'] not in tasks:
        producer['producerTask'] = producer['producerTask'].removesuffix('_task')
  for task in tasks.values():
    # TFX compiles none; KFP then fails the run at a task's first failure.
    task['retryPolicy'] = dict(policy)
  for name in uncached_tasks:
    if name not in tasks:
      raise ValueError(f'no task {name!r} in {package_path}')
    tasks[name]['cachingOptions'] = {'enableCache': False}
  json_format.ParseDict(spec, pipeline_spec_pb2.PipelineSpec())  # Still a valid spec?
  with open(package_path, 'w') as f:
    f.write(header)
    yaml.safe_dump(spec, f, sort_keys=True)


def submit(client, package_path, experiment, pipeline_root, run_name=None, cron=None,
           arguments=None):
  """Starts a run of the package, or a recurring run when cron is given; returns its id.

  client: a kfp.Client; cron: checked by check_submission(); arguments: pipeline
  parameter values for this run or schedule (from parse_param_overrides()).
  Caching is left as compiled (enable_caching=None): any other value would
  override every task's, the baseline's included. A schedule runs one run at
  a time (max_concurrency=1): overlapping runs of one schedule could not
  both be compared against what serves; and it does not backfill
  (no_catchup).
  """
  experiment_id = client.create_experiment(name=experiment).experiment_id  # Get or create.
  if cron:
    return client.create_recurring_run(
        experiment_id=experiment_id, job_name=run_name or f'{experiment} {cron}',
        cron_expression=cron, max_concurrency=1, params=arguments or {},
        # A schedule that was paused or down runs once when it resumes, not
        # once per missed interval: every run takes the newest data anyway.
        no_catchup=True,
        pipeline_package_path=package_path,
        pipeline_root=pipeline_root).recurring_run_id
  return client.create_run_from_pipeline_package(
      package_path, arguments=arguments or {}, run_name=run_name,
      experiment_id=experiment_id, pipeline_root=pipeline_root).run_id
