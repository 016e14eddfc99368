"""The compiled Kubeflow package, run as KFP's launcher runs it, vs the same pipeline with LocalDagRunner.

  python -m bench.kfp_package [--train 1000 --eval 200 --epochs 2]

Both sides are one fresh process each, in one session, on the same small data
(real images when installed) and flags, data validation off: local_runner.py
with a new --output_dir, and a worker that compiles the package as
kubeflow_runner.py does and runs it with tests/kfp_launcher.py, where every task
is a process of its own (the container start-up a cluster pays, less the image
pull). Reports wall time of each and the ratio.
"""
import argparse
import os
import shutil
import sys
import tempfile
import time

from bench import common


def packaged(data_dir, root, train, evals, epochs):
  """Compiles as kubeflow_runner.py does and runs the package; returns wall seconds."""
  from pipeline import configs  # pylint: disable=g-import-not-at-top
  from pipeline import kubeflow  # pylint: disable=g-import-not-at-top
  from pipeline import pipeline as pipeline_lib  # pylint: disable=g-import-not-at-top
  from tests import kfp_launcher  # pylint: disable=g-import-not-at-top
  compiled = dict(data_dir=data_dir, spans=configs.DEFAULT_SPANS, warm_start=1,
                  train_examples=train, eval_examples=evals,
                  noise_factor=configs.DEFAULT_NOISE_FACTOR, model=configs.DEFAULT_MODEL,
                  epochs=epochs, batch_size=configs.DEFAULT_BATCH_SIZE,
                  learning_rate=configs.DEFAULT_LEARNING_RATE,
                  min_psnr_gain_db=configs.DEFAULT_MIN_PSNR_GAIN_DB,
                  min_ssim=configs.DEFAULT_MIN_SSIM,
                  max_psnr_drop_db=configs.DEFAULT_MAX_PSNR_DROP_DB)
  pipeline = pipeline_lib.create_pipeline(
      pipeline_root=os.path.join(root, 'pipeline_root'),
      serving_dir=os.path.join(root, configs.SERVING_DIR_NAME),
      data_validation=False, **kubeflow.runtime_parameters(compiled))
  package = kubeflow.compile_pipeline(pipeline, 'denoise-pipeline:bench',
                                      os.path.join(root, 'denoise.yaml'))
  start = time.monotonic()
  result = kfp_launcher.run_package(package)
  return {'seconds': time.monotonic() - start,
          'pushed': result.tasks['DenoisePusher'].artifacts['pushed_model']['metadata'][
              'pushed']}


def main():
  parser = argparse.ArgumentParser()
  parser.add_argument('--train', type=int, default=1000)
  parser.add_argument('--eval', type=int, default=200)
  parser.add_argument('--epochs', type=int, default=2)
  parser.add_argument('--worker', action='store_true')
  parser.add_argument('--data_dir')
  parser.add_argument('--root')
  args = parser.parse_args()
  if args.worker:
    common.report(packaged(args.data_dir, args.root, args.train, args.eval, args.epochs))
    return
  from components.ingestion import idx  # pylint: disable=g-import-not-at-top
  common.header('Kubeflow package (KFP launcher, a process per task) vs LocalDagRunner')
  data_dir = idx.resolve_data_dir()
  root = tempfile.mkdtemp(prefix='kfp-bench-')
  try:
    local_wall, _, _ = common.timed_process([
        sys.executable, 'local_runner.py', f'--output_dir={root}/local', f'--data_dir={data_dir}',
        f'--train_examples={args.train}', f'--eval_examples={args.eval}',
        f'--epochs={args.epochs}', '--nodata_validation'])
    result = common.run_worker('bench.kfp_package', '--worker', '--data_dir', data_dir,
                               '--root', f'{root}/kfp', '--train', args.train,
                               '--eval', args.eval, '--epochs', args.epochs)
  finally:
    shutil.rmtree(root, ignore_errors=True)
  common.table(['run', 'wall s'], [['local_runner.py (one process)', local_wall],
                                   ['packaged, task by task', result['seconds']]])
  print(f'\nratio packaged / local: {result["seconds"] / local_wall:.2f}x '
        f'(the packaged side excludes compiling; local includes start-up)')
  common.save('kfp_package', dict(result, local_seconds=local_wall))


if __name__ == '__main__':
  main()
