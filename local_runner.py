"""Runs the denoising pipeline on this machine with LocalDagRunner.

  python local_runner.py --output_dir=tfx_output [--epochs=1 --train_examples=2000 ...]
"""
import os
import sys
import warnings

# google-api-core warns about Python 3.10 on import, once per module.
warnings.filterwarnings('ignore', category=FutureWarning)

from absl import app  # pylint: disable=g-import-not-at-top
from absl import flags

from components import locks
from components.ingestion import idx
from pipeline import configs
from pipeline import flags as pipeline_flags
from pipeline import local_run

OUTPUT_DIR = flags.DEFINE_string(
    'output_dir', configs.DEFAULT_OUTPUT_DIR,
    'Artifacts, ML Metadata (SQLite), the serving directory and run_summary.json go here.')
flags.adopt_module_key_flags(pipeline_flags)


def main(_):
  output_dir = os.path.abspath(OUTPUT_DIR.value)
  os.makedirs(output_dir, exist_ok=True)
  # Beam multi-processing workers import our components by module path.
  project_root = os.path.dirname(os.path.abspath(__file__))
  os.environ['PYTHONPATH'] = os.pathsep.join(
      p for p in (project_root, os.environ.get('PYTHONPATH')) if p)
  try:
    # One run per output directory: they would share ML Metadata's SQLite
    # store. The OS drops the lock when the process dies, even by kill -9.
    with locks.pid_lock(os.path.join(output_dir, locks.LOCK_FILE), output_dir):
      pipeline = local_run.create_local_pipeline(
          output_dir,
          data_dir=idx.resolve_data_dir(pipeline_flags.DATA_DIR.value),
          serving_dir=pipeline_flags.SERVING_DIR.value,
          beam_pipeline_args=pipeline_flags.BEAM_PIPELINE_ARGS.value,
          **pipeline_flags.pipeline_kwargs())
      summary = local_run.run(pipeline, output_dir)
  except (ValueError, locks.Busy) as e:  # idx.DataError included
    sys.exit(f'error: {e}')
  sys.exit(0 if summary['status'] == 'succeeded' else 1)


if __name__ == '__main__':
  app.run(main)
