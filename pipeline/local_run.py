"""The local run: the pipeline laid out under one output directory, run with LocalDagRunner, with live progress and a run summary."""
import json
import logging
import os
import time
import traceback

from absl import logging as absl_logging
from ml_metadata.proto import metadata_store_pb2
from ml_metadata import metadata_store
from tfx.orchestration import metadata
from tfx.orchestration.local.local_dag_runner import LocalDagRunner
from tfx.types import standard_component_specs

from components import keys
from components import serving_dir as serving_dir_lib
from components.ingestion import spans
from components.report import report as report_lib
from pipeline import configs
from pipeline import pipeline as pipeline_lib

SUMMARY_METRIC_KEYS = ('psnr', 'ssim', 'mse')


class ComponentProgress(logging.Handler):
  """Follows TFX's launcher log lines: which component runs, cached or not, how long."""

  def __init__(self, echo=print):
    super().__init__(logging.INFO)
    self.components = []   # {'id', 'state', 'seconds'} in run order
    self._echo = echo
    self._started = None

  @property
  def current(self):
    return self.components[-1] if self.components else None

  def emit(self, record):
    message = record.getMessage()
    if message.startswith('Component ') and message.endswith(' is running.'):
      self.components.append({'id': message[len('Component '):-len(' is running.')],
                              'state': 'running', 'seconds': None})
      self._started = time.monotonic()
      self._echo(f'[{self.current["id"]}] running ...', flush=True)
    elif self.current is None:
      return
    elif message.startswith('A cached execution'):
      self.current['state'] = 'cached'
    elif message.startswith('Going to run a new execution'):
      self.current['state'] = 'executed'
    elif message.endswith(' is finished.'):
      self._finish_current()

  def fail_current(self):
    if self.current and self.current['state'] != 'cached':
      self.current['state'] = 'failed'
      self._finish_current()

  def _finish_current(self):
    self.current['seconds'] = round(time.monotonic() - self._started, 2)
    self._echo(f'[{self.current["id"]}] {self.current["state"]} in '
               f'{self.current["seconds"]:.1f} s', flush=True)


def metadata_config(output_dir):
  return metadata.sqlite_metadata_connection_config(
      os.path.join(output_dir, configs.METADATA_NAME))


def create_local_pipeline(output_dir, data_dir, serving_dir=None, beam_pipeline_args=(),
                          **pipeline_kwargs):
  """create_pipeline() laid out under output_dir, as local_runner.py runs it.

  output_dir holds the pipeline root (artifacts/), ML Metadata (SQLite) and,
  unless serving_dir is given, the serving directory. The deployed versions
  key the baselines' caches, so a change of the deployment is noticed.
  Empty beam_pipeline_args: Beam's in-process DirectRunner with one worker
  (multi-processing measured ~3x slower on 2 cores; any option makes TFX
  build a 42 MB source package of itself per Beam component).
  """
  if not serving_dir:
    serving_dir = os.path.join(output_dir, configs.SERVING_DIR_NAME)
  elif '://' not in serving_dir:
    serving_dir = os.path.abspath(serving_dir)
  return pipeline_lib.create_pipeline(
      pipeline_root=os.path.join(output_dir, configs.ARTIFACTS_DIR_NAME),
      serving_dir=serving_dir,
      data_dir=data_dir,
      deployed_versions=serving_dir_lib.versions(serving_dir),
      metadata_connection_config=metadata_config(output_dir),
      beam_pipeline_args=list(beam_pipeline_args),
      **pipeline_kwargs)


def latest_outputs(connection_config):
  """{output key: ML Metadata artifact} of the newest pipeline run.

  Output keys are unique across this pipeline's components, so a key names
  one output (keys.py).
  """
  store = metadata_store.MetadataStore(connection_config)
  runs = store.get_contexts_by_type('pipeline_run')
  if not runs:
    return {}
  run = max(runs, key=lambda c: (c.create_time_since_epoch, c.id))
  execution_ids = [e.id for e in store.get_executions_by_context(run.id)]
  output_keys = {ev.artifact_id: ev.path.steps[0].key
                 for ev in store.get_events_by_execution_ids(execution_ids)
                 if ev.type == metadata_store_pb2.Event.OUTPUT}
  return {output_keys[a.id]: a for a in store.get_artifacts_by_id(list(output_keys))}


def _training_facts(outputs):
  """(span numbers trained on, deployed version training started from) of a run's outputs."""
  span_numbers = warm_started_from = None
  if keys.INPUT_SPANS_KEY in outputs:
    with open(outputs[keys.INPUT_SPANS_KEY].uri) as f:
      span_numbers = json.load(f)[keys.SPAN_NUMBERS_PROPERTY]
  if keys.BASE_MODEL_KEY in outputs:
    properties = outputs[keys.BASE_MODEL_KEY].custom_properties
    warm_started_from = properties[keys.DEPLOYED_VERSION_KEY].string_value or None
  return span_numbers, warm_started_from


def build_summary(status, components, report_dir, error=None, tensorboard_logdir=None,
                  log_file=None, spans=None, warm_started_from=None):
  """The run_summary.json content, from the report's metrics.json when there is one."""
  report = {}
  if report_dir and os.path.isfile(os.path.join(report_dir, 'metrics.json')):
    with open(os.path.join(report_dir, 'metrics.json')) as f:
      report = json.load(f)
  metrics = None
  if report.get('model'):
    metrics = {k: report['model'][k] for k in SUMMARY_METRIC_KEYS}
    metrics.update({f'noisy_{k}': report['noisy_input'][k] for k in SUMMARY_METRIC_KEYS})
  baseline = report.get('baseline')
  return {
      'status': status,
      'spans': spans,
      'warm_started_from': warm_started_from,
      'blessed': bool(report.get('blessed', False)),
      'reasons': report.get('reasons', []),
      'pushed': bool(report.get('pushed', False)),
      'push_reason': report.get('push_reason'),
      'pushed_model_dir': report.get('pushed_model_dir'),
      'metrics': metrics,
      'baseline_version': report.get('baseline_version'),
      'baseline_metrics': ({k: baseline[k] for k in SUMMARY_METRIC_KEYS}
                           if baseline else None),
      'report_dir': report_dir,
      # The report component writes report.html whenever it publishes its directory.
      'report_html': os.path.join(report_dir, report_lib.HTML_NAME) if report_dir else None,
      'tensorboard_logdir': tensorboard_logdir,
      'components': components,
      'error': error,
      'log_file': log_file,
  }


def format_summary(summary):
  lines = [f'Run {summary["status"]}.']
  if summary['error']:
    lines.append(f'Error: {summary["error"]}')
  m = summary['metrics']
  if m:
    lines.append(f'Model:       PSNR {m["psnr"]:.2f} dB  SSIM {m["ssim"]:.3f}  MSE {m["mse"]:.5f}')
    lines.append(f'Noisy input: PSNR {m["noisy_psnr"]:.2f} dB  SSIM {m["noisy_ssim"]:.3f}  '
                 f'MSE {m["noisy_mse"]:.5f}')
  b = summary['baseline_metrics']
  if b:
    lines.append(f'Baseline (deployed version {summary["baseline_version"]}): '
                 f'PSNR {b["psnr"]:.2f} dB  SSIM {b["ssim"]:.3f}  MSE {b["mse"]:.5f}')
  elif m:
    lines.append('Baseline: none deployed yet (absolute thresholds only)')
  if summary['spans'] is not None:
    start = summary['warm_started_from']
    lines.append(f'Trained on {spans.describe(summary["spans"])}, '
                 + (f'from deployed version {start}' if start else 'from initial weights'))
  if m:
    lines.append('Blessed.' if summary['blessed'] else
                 'NOT blessed: ' + '; '.join(summary['reasons']))
    lines.append(f'Pushed to {summary["pushed_model_dir"]}' if summary['pushed'] else
                 f'Not pushed: {summary["push_reason"]}')
  if summary['report_html']:
    lines.append(f'Report: {summary["report_html"]}')
  if summary['tensorboard_logdir']:
    lines.append(f'TensorBoard: tensorboard --logdir {summary["tensorboard_logdir"]}')
  if summary['log_file']:
    lines.append(f'Log: {summary["log_file"]}')
  return '\n'.join(lines)


def run(pipeline, output_dir, echo=print, log_file=None):
  """Runs the pipeline; writes <output_dir>/run_summary.json; returns the summary.

  echo prints the progress lines and the summary; log_file, where the rest
  of the output went, is named in the summary.
  """
  progress = ComponentProgress(echo)
  # Progress follows TFX's INFO lines: make them, whoever shows them. The
  # level is set through absl's verbosity flag, since a component that
  # parses flags re-applies that flag to the logger.
  absl_logger = logging.getLogger('absl')
  saved_verbosity = absl_logging.get_verbosity()
  absl_logging.set_verbosity(absl_logging.INFO)
  absl_logger.addHandler(progress)
  error = None
  try:
    LocalDagRunner().run(pipeline)
  except Exception as e:  # pylint: disable=broad-except
    progress.fail_current()
    failed = progress.current['id'] if progress.current else 'pipeline'
    error = f'{failed} failed: {type(e).__name__}: {e}'
    traceback.print_exc()  # onto stderr: the log, unless everything is shown
  finally:
    absl_logger.removeHandler(progress)
    absl_logging.set_verbosity(saved_verbosity)
  # After a failure the newest run in ML Metadata may be an earlier one.
  outputs = {} if error else latest_outputs(pipeline.metadata_connection_config)
  span_numbers, warm_started_from = _training_facts(outputs)
  uris = {key: artifact.uri for key, artifact in outputs.items()}
  summary = build_summary(
      'failed' if error else 'succeeded', progress.components, uris.get(keys.REPORT_KEY),
      error, tensorboard_logdir=uris.get(standard_component_specs.MODEL_RUN_KEY),
      log_file=log_file, spans=span_numbers, warm_started_from=warm_started_from)
  echo(format_summary(summary), flush=True)
  _write_summary(os.path.join(output_dir, configs.RUN_SUMMARY_NAME), summary, echo)
  return summary


def _write_summary(path, summary, echo):
  """Writes run_summary.json whole (temporary file, then rename), or says why not.

  A full disk must not turn a run's outcome into a traceback: the summary was
  printed already, and the exit status still tells it.
  """
  temporary = f'{path}.tmp'
  try:
    with open(temporary, 'w') as f:
      json.dump(summary, f, indent=2)
    os.replace(temporary, path)
  except OSError as e:
    echo(f'Warning: could not write {path}: {e.strerror or e}', flush=True)
    if os.path.exists(temporary):
      os.remove(temporary)
