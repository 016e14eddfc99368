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

from components.ingestion import idx
from components import serving_dir as serving_dir_lib
from pipeline import configs
from pipeline import flags as pipeline_flags
from pipeline import local_run
from pipeline import pipeline as pipeline_lib

flags.DEFINE_string('output_dir', configs.DEFAULT_OUTPUT_DIR,
                    'Artifacts, ML Metadata (SQLite), the serving directory and '
                    'run_summary.json go here.')
pipeline_flags.define_pipeline_flags()
flags.adopt_module_key_flags(pipeline_flags)
FLAGS = flags.FLAGS



def main(_):
  output_dir = os.path.abspath(FLAGS.output_dir)
  os.makedirs(output_dir, exist_ok=True)
  # Beam multi-processing workers import our components by module path.
  project_root = os.path.dirname(os.path.abspath(__file__))
  os.environ['PYTHONPATH'] = os.pathsep.join(
      p for p in (project_root, os.environ.get('PYTHONPATH')) if p)
  serving_dir = os.path.join(output_dir, configs.SERVING_DIR_NAME)
  try:
    pipeline = pipeline_lib.create_pipeline(
        pipeline_root=os.path.join(output_dir, 'artifacts'),
        serving_dir=serving_dir,
        data_dir=idx.resolve_data_dir(FLAGS.data_dir),
        deployed_version=serving_dir_lib.latest_version(serving_dir) or '',
        metadata_connection_config=local_run.metadata_config(output_dir),
        # Empty by default: Beam's in-process DirectRunner with one worker
        # (multi-processing measured ~3x slower on 2 cores). Any option makes
        # TFX build a 42 MB source package of itself per Beam component.
        beam_pipeline_args=FLAGS.beam_pipeline_args,
        **pipeline_flags.pipeline_kwargs(FLAGS))
  except ValueError as e:  # idx.DataError included
    sys.exit(f'error: {e}')
  summary = local_run.run(pipeline, output_dir)
  sys.exit(0 if summary['status'] == 'succeeded' else 1)


if __name__ == '__main__':
  app.run(main)
