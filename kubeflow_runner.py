"""Compiles the denoising pipeline for Kubeflow Pipelines, and optionally runs it.

  python kubeflow_runner.py --image=REGISTRY/denoise-pipeline:TAG
      --pipeline_root=gs://BUCKET/denoise [--output=denoise-pipeline.yaml]
      [--endpoint=URL (--run | --cron="0 0 3 * * *")] [--epochs=... ...]

Every component runs in --image (see Dockerfile); the Trainer imports run_fn
by module path from it.
"""
import os
import sys
import warnings

# google-api-core warns about Python 3.10 on import, once per module.
warnings.filterwarnings('ignore', category=FutureWarning)

from absl import app  # pylint: disable=g-import-not-at-top
from absl import flags

from pipeline import configs
from pipeline import flags as pipeline_flags
from pipeline import storage

flags.DEFINE_string('image', None,
                    'Required. Container image every component runs in, built from the '
                    'Dockerfile, by an immutable reference: a tag such as the git commit, '
                    'or a digest.')
flags.DEFINE_bool('allow_mutable_image', False,
                  'Accept an --image tagged :latest or untagged while caching is on (a '
                  'rebuilt image would then reuse the cached outputs of the old code).')
flags.DEFINE_integer('retries', configs.DEFAULT_RETRIES,
                     'Retries of every task after a failure (a preempted or evicted pod).')
flags.DEFINE_float('retry_backoff', configs.DEFAULT_RETRY_BACKOFF_SECONDS,
                   'Seconds before the first retry of a task; doubled before each next one.')
flags.DEFINE_string('pipeline_root', None,
                    'Required. Artifact root the cluster can write, e.g. gs://bucket/root '
                    'or s3://bucket/root.')
flags.DEFINE_string('output', 'denoise-pipeline.yaml', 'Path of the compiled package (.yaml).')
flags.DEFINE_integer('gpus', 1, 'GPUs requested by the Trainer (0 = CPU only).')
flags.DEFINE_string('accelerator', 'nvidia.com/gpu',
                    'Accelerator type: the Kubernetes resource name on open-source KFP.')
flags.DEFINE_float('cpu_limit', 4.0, "vCPU limit of the Trainer's container.")
flags.DEFINE_float('memory_limit', 16.0, "Memory limit of the Trainer's container, in GB.")
flags.DEFINE_string('endpoint', None, 'Kubeflow Pipelines API URL, for --run and --cron.')
flags.DEFINE_bool('run', False, 'Upload the package and start a run.')
flags.DEFINE_string('cron', None,
                    'Create a recurring run instead, on this 6-field cron schedule '
                    '(second minute hour day-of-month month day-of-week).')
flags.DEFINE_string('experiment', configs.PIPELINE_NAME, 'Experiment of the run(s).')
flags.DEFINE_string('run_name', None, 'Name of the run or recurring run.')
flags.DEFINE_multi_string(
    'param', [],
    'NAME=VALUE: a pipeline parameter for --run or --cron, repeatable; NAME is one of '
    f'{", ".join(configs.RUNTIME_PARAMETER_TYPES)}. Each defaults to the value of the '
    'flag of the same name at compile time.')
flags.adopt_module_key_flags(pipeline_flags)
FLAGS = flags.FLAGS


def main(_):
  # Checked here, not with flags.mark_flag_as_required: a required-flag
  # validator stays in the global FLAGS, and TFX components that parse flags
  # in the same process (tests) would then fail.
  if not FLAGS.pipeline_root:
    sys.exit('error: --pipeline_root is required (e.g. gs://bucket/denoise)')
  # The flags' ranges, and where the image's components can read and write,
  # before TensorFlow loads.
  try:
    pipeline_flags.check_values()
    for flag, uri in (('--pipeline_root', FLAGS.pipeline_root),
                      ('--serving_dir', pipeline_flags.SERVING_DIR.value),
                      ('--data_dir', pipeline_flags.DATA_DIR.value)):
      if uri:
        storage.check_storage_uri(uri, flag)
  except ValueError as e:
    sys.exit(f'error: {e}')
  # Imported here so that --help and a bad flag do not wait ~25 s for TensorFlow.
  from components import schema  # pylint: disable=g-import-not-at-top
  from pipeline import kubeflow  # pylint: disable=g-import-not-at-top
  from pipeline import pipeline as pipeline_lib  # pylint: disable=g-import-not-at-top

  try:
    kubeflow.check_submission(FLAGS.run, FLAGS.cron, FLAGS.endpoint)
    if FLAGS.param and not (FLAGS.run or FLAGS.cron):
      raise ValueError('--param sets a value for --run or --cron: the package itself '
                       'takes the flags of the same names as defaults')
    # An empty data_dir is resolved by the ingestion executor, in the container.
    compiled = dict(pipeline_flags.pipeline_kwargs(),
                    data_dir=pipeline_flags.DATA_DIR.value or '')
    arguments = kubeflow.parse_param_overrides(FLAGS.param, compiled)
    kubeflow.check_image(FLAGS.image, FLAGS.enable_cache, FLAGS.allow_mutable_image)
    pipeline = pipeline_lib.create_pipeline(
        pipeline_root=FLAGS.pipeline_root,
        serving_dir=pipeline_flags.SERVING_DIR.value or os.path.join(
            FLAGS.pipeline_root, configs.SERVING_DIR_NAME),
        # The baselines read the serving directory at run time, uncached.
        schema_file=schema.IMAGE_SCHEMA_FILE,
        trainer_platform_config=kubeflow.trainer_resources(
            FLAGS.cpu_limit, FLAGS.memory_limit, FLAGS.gpus, FLAGS.accelerator),
        beam_pipeline_args=pipeline_flags.BEAM_PIPELINE_ARGS.value,
        **dict(compiled, **kubeflow.runtime_parameters(compiled)))
    package_path = kubeflow.compile_pipeline(pipeline, FLAGS.image, FLAGS.output,
                                             FLAGS.retries, FLAGS.retry_backoff)
  except ValueError as e:
    sys.exit(f'error: {e}')
  print(f'Compiled {package_path}')
  if FLAGS.run or FLAGS.cron:
    import kfp  # pylint: disable=g-import-not-at-top
    submitted_id = kubeflow.submit(
        kfp.Client(host=FLAGS.endpoint), package_path, FLAGS.experiment,
        FLAGS.pipeline_root, FLAGS.run_name, FLAGS.cron, arguments)
    print(f'{"Recurring run" if FLAGS.cron else "Run"} {submitted_id} in experiment '
          f'{FLAGS.experiment!r}')


if __name__ == '__main__':
  app.run(main)
