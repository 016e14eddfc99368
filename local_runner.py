"""Runs the denoising pipeline on this machine with LocalDagRunner.

  python local_runner.py --output_dir=tfx_output [--epochs=1 --train_examples=2000 ...]

Flags and the data directory are checked before TensorFlow, TFX or Beam are
imported, so a mistake is reported at once. The console then shows one line
per component, Keras' epoch lines, warnings of this project's code and a
summary; everything else goes to <output_dir>/logs/<run time>.log.
"""
import gc
import os
import sys
import time
import warnings

# google-api-core warns about Python 3.10 on import, once per module.
warnings.filterwarnings('ignore', category=FutureWarning)

from absl import app  # pylint: disable=g-import-not-at-top
from absl import flags

from components import locks
from components.ingestion import data_sources
from components.ingestion import spans
from pipeline import configs
from pipeline import console as console_lib
from pipeline import flags as pipeline_flags

OUTPUT_DIR = flags.DEFINE_string(
    'output_dir', configs.DEFAULT_OUTPUT_DIR,
    'Artifacts, ML Metadata (SQLite), the serving directory, run_summary.json and '
    'logs/ go here.')
VERBOSE = flags.DEFINE_bool(
    'verbose', False,
    'Print everything (TensorFlow, Beam, pip, ...) on the console instead of into '
    '<output_dir>/logs/<run time>.log.')
flags.adopt_module_key_flags(pipeline_flags)

USAGE_ERROR = 2  # a flag or the data refused before anything ran; 1: the run failed


def start_line(data_dir, span_numbers, output_dir, log_path):
  values = pipeline_flags.pipeline_kwargs()
  data = data_dir or (f'Fashion-MNIST downloaded into '
                      f'{os.path.expanduser(data_sources.KERAS_CACHE_DIR)}')
  data += f', {spans.describe(span_numbers)}' if span_numbers else ', spans found at run time'
  where = f'output in {output_dir}' + (f', log in {log_path}' if log_path else '')
  epochs = f'{values["epochs"]} epoch' + ('s' if values['epochs'] > 1 else '')
  checks = '' if values['data_validation'] else ', no data validation'
  return (f'Running {configs.PIPELINE_NAME} ({values["model"]} model, {epochs}{checks}) on '
          f'{data}: {where}')


def main(_):
  try:
    pipeline_flags.check_values()
    data_dir = data_sources.first_data_dir(pipeline_flags.DATA_DIR.value)
    # A local directory's layout is checked now; a remote one's at run time.
    if data_dir is None:   # a download: the four files
      span_numbers = [spans.FLAT_SPAN]
    elif '://' in data_dir:
      span_numbers = None
    else:
      span_numbers = sorted(spans.spans_to_use(data_dir, pipeline_flags.SPANS.value))
  except ValueError as e:
    print(f'error: {e}', file=sys.stderr)
    sys.exit(USAGE_ERROR)
  output_dir = os.path.abspath(OUTPUT_DIR.value)
  os.makedirs(output_dir, exist_ok=True)
  try:
    # One run per output directory: they would share ML Metadata's SQLite
    # store. The OS drops the lock when the process dies, even by kill -9.
    with locks.pid_lock(os.path.join(output_dir, locks.LOCK_FILE), output_dir):
      summary = _run(output_dir, data_dir, span_numbers)
  except locks.Busy as e:
    print(f'error: {e}', file=sys.stderr)
    sys.exit(USAGE_ERROR)
  # Everything is written and closed. Frozen objects are left out of the
  # collections of the interpreter's exit, which took 2 s over what
  # TensorFlow, Beam and TFX hold (bench/RESULTS.md).
  gc.freeze()
  sys.exit(0 if summary['status'] == 'succeeded' else 1)


def _run(output_dir, data_dir, span_numbers):
  """The run itself, console diverted to the log: returns the run summary."""
  if VERBOSE.value:
    console, log_path = console_lib.undiverted(), None
  else:
    log_path = os.path.join(output_dir, configs.LOGS_DIR_NAME,
                            time.strftime('%Y%m%d-%H%M%S') + '.log')
    console = console_lib.divert_to_log(log_path)
  console.print(start_line(data_dir, span_numbers, output_dir, log_path))

  # Beam multi-processing workers import our components by module path.
  project_root = os.path.dirname(os.path.abspath(__file__))
  os.environ['PYTHONPATH'] = os.pathsep.join(
      p for p in (project_root, os.environ.get('PYTHONPATH')) if p)
  # TensorFlow, TFX and Beam: about 8 s, and their start-up messages.
  from components.ingestion import idx  # pylint: disable=g-import-not-at-top
  from pipeline import local_run  # pylint: disable=g-import-not-at-top
  # Those imports leave over 600,000 long-lived objects, which every full
  # collection of the cyclic GC would walk again (0.2-0.35 s each, about ten
  # per run): freezing moves them out of its way.
  gc.freeze()
  try:
    with console.stderr_shown():  # a download's progress bar
      data_dir = idx.resolve_data_dir(pipeline_flags.DATA_DIR.value)
    pipeline = local_run.create_local_pipeline(
        output_dir,
        data_dir=data_dir,
        serving_dir=pipeline_flags.SERVING_DIR.value,
        beam_pipeline_args=pipeline_flags.BEAM_PIPELINE_ARGS.value,
        **pipeline_flags.pipeline_kwargs())
  except ValueError as e:  # idx.DataError included
    console.err.write(f'error: {e}\n')
    sys.exit(USAGE_ERROR)
  return local_run.run(pipeline, output_dir, echo=console.print, log_file=log_path)


if __name__ == '__main__':
  app.run(main)
