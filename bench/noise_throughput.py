"""NoiseAugmenter's Beam stage vs the tutorial's in-memory noise, on the same real images.

  python -m bench.noise_throughput [--images N]

Ours: the component's executor (read TFRecords, batch, draw, write TFRecords) on
the in-process DirectRunner, over examples ingested beforehand by another
process (untimed, and outside this side's peak memory).
Baseline: clip(x + 0.2 * tf.random.normal(x.shape), 0, 1) on numpy arrays in memory.
Each side runs in its own process, so the peak memory is its own.
"""
import argparse
import sys
import tempfile
import time

from bench import common
from pipeline import configs


def _split_limits(images):
  """First N images taken from train, then eval, as --train/--eval_examples do."""
  train = min(images, 60000)
  return train, max(images - train, 0) or 1


def ingest(images, ingested_dir):
  from tfx.types import standard_artifacts  # pylint: disable=g-import-not-at-top
  from components.ingestion import executor as ingestion  # pylint: disable=g-import-not-at-top
  from components.ingestion import idx  # pylint: disable=g-import-not-at-top
  train, evals = _split_limits(images)
  ingested = standard_artifacts.Examples()
  ingested.uri = ingested_dir
  ingestion.Executor().Do({}, {'examples': [ingested]}, {
      'data_dir': idx.resolve_data_dir(), 'train_examples': train, 'eval_examples': evals})
  return {'images': train + evals}


def ours(images, ingested_dir):
  from tfx.types import artifact_utils  # pylint: disable=g-import-not-at-top
  from tfx.types import standard_artifacts  # pylint: disable=g-import-not-at-top
  from components import features  # pylint: disable=g-import-not-at-top
  from components.noise import executor as noise_executor  # pylint: disable=g-import-not-at-top
  ingested = standard_artifacts.Examples()
  ingested.uri = ingested_dir
  ingested.split_names = artifact_utils.encode_split_names(list(features.SPLITS))
  with tempfile.TemporaryDirectory() as tmp:
    augmented = standard_artifacts.Examples()
    augmented.uri = f'{tmp}/augmented'
    start = time.monotonic()
    noise_executor.Executor().Do({'examples': [ingested]}, {'augmented_examples': [augmented]},
                                 {'noise_factor': configs.DEFAULT_NOISE_FACTOR,
                                  'seed': configs.DEFAULT_SEED})
    seconds = time.monotonic() - start
  return {'seconds': seconds, 'images': sum(_split_limits(images))}


def baseline(images, _):
  import numpy as np  # pylint: disable=g-import-not-at-top
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  train, evals = _split_limits(images)
  x = np.concatenate([common.real_images('train', train)[0],
                      common.real_images('eval', evals)[0]])
  tf.random.normal(shape=(1, 1))  # TF's start-up is not noise
  start = time.monotonic()
  noisy = tf.clip_by_value(x + configs.DEFAULT_NOISE_FACTOR * tf.random.normal(shape=x.shape), 0., 1.).numpy()
  seconds = time.monotonic() - start
  assert noisy.shape == x.shape
  return {'seconds': seconds, 'images': len(x)}


def main():
  parser = argparse.ArgumentParser()
  parser.add_argument('--images', type=int, default=70000)
  parser.add_argument('--worker', choices=['ingest', 'ours', 'baseline'])
  parser.add_argument('--ingested_dir')
  args = parser.parse_args()
  if args.worker:
    worker = {'ingest': ingest, 'ours': ours, 'baseline': baseline}[args.worker]
    common.report(worker(args.images, args.ingested_dir))
    return
  common.header('Noise augmentation: NoiseAugmenter (Beam) vs in-memory tutorial noise')
  with tempfile.TemporaryDirectory() as tmp:
    common.run_worker('bench.noise_throughput', '--images', args.images,
                      '--worker', 'ingest', '--ingested_dir', tmp)
    results = {side: common.run_worker('bench.noise_throughput', '--images', args.images,
                                       '--worker', side, '--ingested_dir', tmp)
               for side in ('ours', 'baseline')}
  rows = [[name, r['images'], r['seconds'], r['images'] / r['seconds'], r['peak_mb']]
          for name, r in (('NoiseAugmenter executor, DirectRunner in-process '
                           '(read + noise + write TFRecords)', results['ours']),
                          ('tutorial: tf.random.normal on in-memory arrays', results['baseline']))]
  common.table(['stage', 'images', 'seconds', 'images/s', 'peak MB'], rows)
  ratio = results['ours']['seconds'] / results['baseline']['seconds']
  print(f'\nratio (ours / tutorial time): {ratio:.1f}x   goal: <= 6x')
  common.save('noise_throughput', dict(results, ratio=ratio))


if __name__ == '__main__':
  sys.exit(main())
