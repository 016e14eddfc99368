"""Runs a compiled KFP v2 package here, task after task, as a cluster would: test support.

It follows kubeflow/pipelines backend/src/v2: the driver (driver/container.go,
resolve.go, driver.go provisionOutputs, cache.go) resolves each task's
ExecutorInput and cache key, the launcher (component/launcher_v2.go) runs the
container's command and merges the ExecutorOutput, and ML Metadata records
each output artifact (metadata/converter.go). The image is this repository:
`python` is this interpreter, PYTHONPATH and the working directory the
repository root, as the Dockerfile sets them. The pipeline root holds the
artifacts, and may be remote (s3://, gs://: only the tasks read and write it);
the launcher's own files, pod-local on a cluster (executor logs, output
parameter files, the ExecutorOutput) and its cache records (KFP's database),
stay in a local work directory. Importer and resolver executors, conditions,
loops and nested DAGs are refused: the project's packages must not need them.

Retries follow a task's retryPolicy as Argo runs it (backend/src/v2/compiler/
argocompiler/container.go: the retryStrategy is the executor pod's; the
driver ran once): a failed attempt is run again with the same ExecutorInput,
so the same output URIs, up to maxRetryCount times; the backoff is not
waited. `interrupt` ends a task's first attempts as a cluster may: killed
(SIGKILL) after some seconds or once a condition holds (a file appears), or
lost after they completed; a retry follows each.
"""
import dataclasses
from typing import Callable
import graphlib
import hashlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid

from google.protobuf import json_format
from kfp.local import placeholder_utils
from kfp.pipeline_spec import pipeline_spec_pb2
import yaml

CODE_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LOG_TAIL_LINES = 30
# Each parameter type and the JSON kinds it accepts (structpb.Value).
KINDS = {'STRING': (str,), 'NUMBER_INTEGER': (int, float), 'NUMBER_DOUBLE': (int, float),
         'BOOLEAN': (bool,), 'LIST': (list,), 'STRUCT': (dict,)}


# How often an interruption's condition is checked.
POLL_SECONDS = 0.01


@dataclasses.dataclass
class TaskResult:
  state: str        # 'executed', or 'cached' when an earlier run's outputs were reused
  artifacts: dict   # output key -> {'name', 'type', 'uri', 'metadata'}, as recorded
  parameters: dict  # output key -> value
  log_path: str = None  # stdout and stderr of the last attempt; None when cached
  # Exit status of each attempt (-9: killed); None when cached.
  attempts: list = None


@dataclasses.dataclass
class Interruption:
  """How an attempt of a task ends before its retry.

  kill_when: called with the ExecutorInput while the attempt runs; once it
    returns true the attempt is SIGKILLed. kill_after_seconds: killed then.
    Neither: the attempt completes and is lost anyway (a pod evicted after its
    command returned), and the retry re-executes the finished task.
  """
  kill_when: Callable[[dict], bool] = None
  kill_after_seconds: float = None

  def should_kill(self, executor_input, started):
    if self.kill_when is not None and self.kill_when(executor_input):
      return True
    return (self.kill_after_seconds is not None and
            time.monotonic() - started >= self.kill_after_seconds)


@dataclasses.dataclass
class RunResult:
  run_id: str
  root: str    # <pipeline root>/<pipeline name>/<run id>: every task's output artifacts
  tasks: dict  # task name -> TaskResult, in the order they ran


class TaskFailedError(RuntimeError):

  def __init__(self, task, returncode, log_path):
    with open(log_path, errors='replace') as f:
      tail = ''.join(f.readlines()[-LOG_TAIL_LINES:])
    super().__init__(f'task {task} failed with exit code {returncode}; the end of '
                     f'{log_path}:\n{tail}')
    self.task, self.log_path = task, log_path


def run_package(package_path, parameters=None, pipeline_root=None, run_id=None,
                enable_caching=True, code_root=CODE_ROOT, work_dir=None, env=None,
                interrupt=None):
  """Runs every task of the package; returns a RunResult, raises TaskFailedError.

  parameters: values of the pipeline's parameters (root inputDefinitions) by
    name; the others take their defaults. pipeline_root: defaults to the
    package's. enable_caching: False runs every task; True reuses the outputs
    of an earlier run's task with the same cache key when the task enables
    caching, as KFP does with its cache database. work_dir: the local directory
    of the launcher's files and cache records; defaults to a local pipeline
    root, required with a remote one. env: environment variables added to every
    container's, as a pod spec's `env` (e.g. an S3 endpoint and credentials).
    interrupt: {task name: [Interruption, ...]}: how its first attempts end,
    each followed by a retry, which the task's retryPolicy must allow.
  """
  with open(package_path) as f:
    spec = yaml.safe_load(f)
  pipeline_root = pipeline_root or spec.get('defaultPipelineRoot', '')
  if not pipeline_root:
    raise ValueError('no pipeline root: the package has no defaultPipelineRoot')
  if work_dir is None:
    if '://' in pipeline_root:
      raise ValueError(f'the pipeline root {pipeline_root} is remote: give a local work_dir '
                       'for the launcher\'s files')
    work_dir = pipeline_root
  pipeline_name, run_id = spec['pipelineInfo']['name'], run_id or str(uuid.uuid4())
  root_values = _pipeline_parameters(
      spec['root'].get('inputDefinitions', {}).get('parameters', {}), parameters or {})
  cache_dir = os.path.join(work_dir, pipeline_name, 'cache')
  run = RunResult(run_id, os.path.join(pipeline_root, pipeline_name, run_id), {})
  run_dir = os.path.join(work_dir, pipeline_name, run_id)
  tasks = spec['root']['dag']['tasks']
  components = {name: spec['components'][task['componentRef']['name']]
                for name, task in tasks.items()}
  containers = {name: _container(name, task, components[name], spec['deploymentSpec'][
      'executors']) for name, task in tasks.items()}  # Refuses before anything runs.
  for name in _execution_order(tasks):
    task, component, container = tasks[name], components[name], containers[name]
    inputs = {'parameterValues': _input_parameters(name, task, component, root_values, run),
              'artifacts': _input_artifacts(name, task, run)}
    task_id = os.path.join(name, str(uuid.uuid4()))
    task_dir = os.path.join(run_dir, task_id)
    outputs = _provision_outputs(os.path.join(run.root, task_id), task_dir,
                                 component.get('outputDefinitions', {}))
    cache_path = os.path.join(cache_dir, _fingerprint(inputs, outputs, component, container)
                              + '.json')
    caching = enable_caching and task.get('cachingOptions', {}).get('enableCache', False)
    if caching and os.path.exists(cache_path):
      with open(cache_path) as f:
        run.tasks[name] = TaskResult('cached', **json.load(f))
      continue
    for key, definition in component.get('inputDefinitions', {}).get('parameters', {}).items():
      if 'defaultValue' in definition:  # The launcher's addDefaultParams, after the cache key.
        inputs['parameterValues'].setdefault(key, definition['defaultValue'])
    executor_input = {'inputs': inputs, 'outputs': outputs}
    command = placeholder_utils.replace_placeholders(
        container.get('command', []) + container.get('args', []), executor_input,
        f'{pipeline_name}-{run_id}', name, pipeline_root)
    result = _launch(name, command, executor_input, component, task_dir, code_root, run_id,
                     env or {}, task.get('retryPolicy', {}).get('maxRetryCount', 0),
                     (interrupt or {}).get(name))
    if caching:
      os.makedirs(cache_dir, exist_ok=True)
      with open(cache_path, 'w') as f:
        json.dump({'artifacts': result.artifacts, 'parameters': result.parameters}, f)
    run.tasks[name] = result
  return run


def _pipeline_parameters(definitions, overrides):
  """The run's parameter values, checked as the KFP API server does."""
  unknown = set(overrides) - set(definitions)
  if unknown:
    raise ValueError(f'no pipeline parameter {sorted(unknown)}; it has {sorted(definitions)}')
  values = {}
  for name, definition in definitions.items():
    if name in overrides:
      values[name] = _checked(name, overrides[name], definition['parameterType'])
    elif 'defaultValue' in definition:
      values[name] = definition['defaultValue']
    elif not definition.get('isOptional'):
      raise ValueError(f'pipeline parameter {name!r} has neither a value nor a default')
  return values


def _checked(name, value, parameter_type):
  """value as a structpb.Value holds it (numbers are doubles), or TypeError."""
  if isinstance(value, bool) != (parameter_type == 'BOOLEAN') or not isinstance(
      value, KINDS[parameter_type]):
    raise TypeError(f'parameter {name!r} is {parameter_type}, got {value!r}')
  return float(value) if parameter_type.startswith('NUMBER') else value


def _execution_order(tasks):
  for name, task in tasks.items():
    for upstream in task.get('dependentTasks', []):
      if upstream not in tasks:
        raise ValueError(f'task {name} depends on {upstream!r}, which is not in the DAG')
  return list(graphlib.TopologicalSorter(
      {name: sorted(tasks[name].get('dependentTasks', [])) for name in sorted(tasks)}
  ).static_order())


def _container(name, task, component, executors):
  """The task's container spec, or ValueError for what the launcher cannot run."""
  refused = [feature for feature, present in (
      ('a condition', 'condition' in task.get('triggerPolicy', {})),
      ('a loop', 'parameterIterator' in task or 'artifactIterator' in task),
      ('a nested DAG', 'dag' in component)) if present]
  executor = executors.get(component.get('executorLabel'), {})
  if not refused and 'container' not in executor:
    refused = [f'an executor of kind {sorted(executor) or "none"} (importer, resolver...)']
  if refused:
    raise ValueError(f'task {name} needs {refused[0]}: only container tasks can run locally')
  return executor['container']


def _producer(name, task, output, what):
  producer = output['producerTask']
  if producer not in task.get('dependentTasks', []):
    raise ValueError(f'task {name} reads {what} of {producer}, but does not depend on it')
  return producer


def _input_parameters(name, task, component, root_values, run):
  """The driver's resolveInputs for parameters, with its type checks and conversions."""
  values = {}
  for key, source in task.get('inputs', {}).get('parameters', {}).items():
    if 'runtimeValue' in source:
      values[key] = source['runtimeValue']['constant']
    elif 'componentInputParameter' in source:
      if source['componentInputParameter'] in root_values:
        values[key] = root_values[source['componentInputParameter']]
    elif 'taskOutputParameter' in source:
      output = source['taskOutputParameter']
      producer = _producer(name, task, output, f'parameter {output["outputParameterKey"]}')
      values[key] = run.tasks[producer].parameters[output['outputParameterKey']]
    else:
      raise ValueError(f'task {name}: input parameter {key} comes from {sorted(source)}, '
                       'which the launcher does not resolve')
  for key, definition in component.get('inputDefinitions', {}).get('parameters', {}).items():
    if key not in values:
      if not definition.get('isOptional') and 'defaultValue' not in definition:
        raise ValueError(f'task {name}: neither value nor default for parameter {key!r}')
    elif definition['parameterType'] == 'STRING' and not isinstance(values[key], str):
      values[key] = _as_text(values[key])  # Every type can be consumed as a string.
    else:
      values[key] = _checked(f'{name}.{key}', values[key], definition['parameterType'])
  return values


def _as_text(value):
  """As the driver's PbValueToText: 2.0 -> '2', True -> 'true', lists as JSON."""
  if isinstance(value, float):
    return str(int(value)) if value.is_integer() else repr(value)
  return json.dumps(value, separators=(',', ':'))


def _input_artifacts(name, task, run):
  artifacts = {}
  for key, source in task.get('inputs', {}).get('artifacts', {}).items():
    if 'taskOutputArtifact' not in source:
      raise ValueError(f'task {name}: input artifact {key} comes from {sorted(source)}, '
                       'which the launcher does not resolve')
    output = source['taskOutputArtifact']
    producer = _producer(name, task, output, f'artifact {output["outputArtifactKey"]}')
    artifacts[key] = {'artifacts': [run.tasks[producer].artifacts[output['outputArtifactKey']]]}
  return artifacts


def _provision_outputs(task_root, task_dir, definitions):
  """The driver's provisionOutputs: <task root>/<output key> for every output artifact.

  task_root is under the pipeline root; task_dir is local, where the launcher
  reads the output parameters and the ExecutorOutput back.
  """
  return {
      'artifacts': {key: {'artifacts': [{
          'name': key, 'type': definition['artifactType'],
          'uri': os.path.join(task_root, key), 'metadata': definition.get('metadata', {})}]}
                    for key, definition in definitions.get('artifacts', {}).items()},
      'parameters': {key: {'outputFile': os.path.join(task_dir, 'outputs', key)}
                     for key in definitions.get('parameters', {})},
      'outputFile': os.path.join(task_dir, 'output_metadata.json')}


def _fingerprint(inputs, outputs, component, container):
  """The driver's cache key: inputs by value, input artifacts by name, outputs without uris."""
  key = {'inputArtifactNames': {k: [a['name'] for a in v['artifacts']]
                                for k, v in inputs['artifacts'].items()},
         'inputParameterValues': inputs['parameterValues'],
         'outputArtifactsSpec': {k: {f: v['artifacts'][0][f] for f in ('name', 'type', 'metadata')}
                                 for k, v in outputs['artifacts'].items()},
         'outputParametersSpec': {k: v['parameterType'] for k, v in component.get(
             'outputDefinitions', {}).get('parameters', {}).items()},
         'containerSpec': {'image': container['image'], 'cmdArgs': container.get(
             'command', []) + container.get('args', [])}}
  return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()


def _launch(name, command, executor_input, component, task_dir, code_root, run_id, pod_env,
            max_retries, interruptions):
  """The launcher's execute, retried as Argo retries the pod; then merges the ExecutorOutput."""
  os.makedirs(os.path.join(task_dir, 'outputs'))  # prepareOutputFolders: parents only.
  interrupted = interruptions or []
  if len(interrupted) > max_retries:
    raise ValueError(f'task {name} is to be interrupted {len(interrupted)} times, but its '
                     f'retryPolicy allows {max_retries} retries')
  attempts = []
  while True:
    # A pod's log per attempt, as KFP's launcher keeps them (KFP_RETRY_INDEX).
    log_path = os.path.join(task_dir, 'executor-logs' + (f'.{len(attempts)}' if attempts else ''))
    interruption = interrupted[len(attempts)] if len(attempts) < len(interrupted) else None
    returncode = _run_in_container(command, code_root, log_path, pod_env, executor_input,
                                   interruption)
    attempts.append(returncode)
    if returncode == 0 and not interruption:
      break
    if len(attempts) > max_retries:
      raise TaskFailedError(name, returncode, log_path)
  outputs = executor_input['outputs']
  produced = pipeline_spec_pb2.ExecutorOutput()  # No file: nothing to merge.
  if os.path.exists(outputs['outputFile']):
    with open(outputs['outputFile']) as f:
      json_format.Parse(f.read(), produced)
  produced = json_format.MessageToDict(produced)
  artifacts = {}
  for key, provisioned in outputs['artifacts'].items():
    # Recorded under a new name: KFP names input artifacts by their ML Metadata id, from
    # which TFX makes its artifact ids (the Evaluator's blessing refers to them).
    artifact = dict(provisioned['artifacts'][0], name=f'{run_id}/{name}/{key}')
    merged = produced.get('artifacts', {}).get(key, {}).get('artifacts', [{}])[0]
    artifact['uri'] = merged.get('uri') or artifact['uri']
    metadata = dict(artifact['metadata'], **merged.get('metadata', {}))
    artifact['metadata'] = {'display_name': key, **{k: _recorded(k, v) for k, v in
                                                     metadata.items()}}
    artifacts[key] = artifact
  parameters = dict(produced.get('parameterValues', {}))
  for key, definition in component.get('outputDefinitions', {}).get('parameters', {}).items():
    if key not in parameters:  # collectOutputParameters: the ExecutorOutput comes first.
      with open(outputs['parameters'][key]['outputFile']) as f:
        parameters[key] = _from_text(f.read(), definition['parameterType'])
  return TaskResult('executed', artifacts, parameters, log_path, attempts)


def _run_in_container(command, code_root, log_path, pod_env, executor_input=None,
                      interruption=None):
  """Runs command as the image would, stdout and stderr to log_path; returns its exit code.

  A container starts from its image's environment, not from this process's:
  importing TFX here set TF_USE_LEGACY_KERAS=1 (tensorflow_transform does), with
  which TFMA would load our SavedModel as a Keras model. Its /tmp goes away with
  the pod: TFX leaves a 42 MB sdist of itself there per Beam component. pod_env
  is added to the image's environment, as a pod spec's `env`. An interruption
  kills the command's process group, as a pod's deletion kills its container.
  """
  if command and command[0] == 'python':
    command = [sys.executable, *command[1:]]
  with tempfile.TemporaryDirectory() as pod_tmp, open(log_path, 'wb') as log:
    env = {'PATH': os.environ.get('PATH', os.defpath), 'HOME': os.path.expanduser('~'),
           'PYTHONPATH': code_root, 'TMPDIR': pod_tmp, **pod_env}
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=code_root,
                               env=env, start_new_session=True)
    started = time.monotonic()
    while process.poll() is None:
      if interruption and interruption.should_kill(executor_input, started):
        os.killpg(process.pid, signal.SIGKILL)
        return process.wait()
      time.sleep(POLL_SECONDS)
    return process.returncode


def _recorded(key, value):
  """A metadata value as ML Metadata gives it back downstream (StructValueToMLMDValue)."""
  if value is None:
    raise ValueError(f'metadata {key!r} is null: ML Metadata cannot record it')
  if isinstance(value, (list, dict)):
    return {'list' if isinstance(value, list) else 'struct': value}
  return float(value) if isinstance(value, (bool, int, float)) else value  # Booleans as 1/0.


def _from_text(text, parameter_type):
  """An output parameter file's text as the launcher reads it (TextToPbValue)."""
  if parameter_type == 'STRING':
    return text
  if parameter_type == 'BOOLEAN':
    return {'true': True, '1': True, 't': True, 'false': False, '0': False, 'f': False}[
        text.strip().lower()]
  if parameter_type == 'NUMBER_INTEGER':
    return float(int(text.strip()))
  return float(text) if parameter_type == 'NUMBER_DOUBLE' else json.loads(text)
