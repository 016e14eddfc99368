"""Warm start on a new span: how many epochs to reach the deployed model's quality, against a cold start.

  python -m bench.warm_start [--epochs 10] [--deployed_epochs 10] [--model tutorial]

Two disjoint spans of the real data, noisy as the NoiseAugmenter makes them
(seed 42, noise 0.2, ids `span-N/<split>-<index within the span>`) and written
as its TFRecords: span 1 = training images 0-29,999 and t10k images 0-4,999,
span 2 = training images 30,000-59,999 and t10k images 5,000-9,999.

"Deployed": a cold run on span 1 (--deployed_epochs), exported with
export_serving_model. The target is its mean per-image PSNR (and SSIM) on
span 2's eval images. Then on span 2, a cold start (seeded weights) and a warm
start (initial_weights_dir = the deployed SavedModel, as the Trainer does),
each through denoise_trainer.train as run_fn calls it: one fit, one optimizer
across all epochs. Each is scored on span 2's eval images before training
(epoch 0) and after every epoch. Reported: PSNR and SSIM per epoch, the first
trained epoch at or above the target, the first within the Evaluator's default
PSNR gate (target - 0.1 dB), and seconds per epoch (training plus fit's
validation on span 2's 5,000 eval images, not the scoring). Pipeline defaults:
batch 32, Adam 1e-3, seed 42. Each run in a fresh process of its own.
"""
import argparse
import os
import tempfile
import time

from bench import common
from pipeline import configs

SPANS = {1: {'train': (0, 30000), 'eval': (0, 5000)},
         2: {'train': (30000, 60000), 'eval': (5000, 10000)}}
DEPLOYED_SPAN, NEW_SPAN = 1, 2


def _path(data, span, split):
  return os.path.join(data, f'span-{span}', f'{split}.tfrecord')


def write_spans(data):
  """The two spans' noisy examples as NoiseAugmenter TFRecords under data."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from components.ingestion import idx  # pylint: disable=g-import-not-at-top
  from components.noise import noise  # pylint: disable=g-import-not-at-top
  from components.noise.executor import to_noisy_example  # pylint: disable=g-import-not-at-top
  data_dir = idx.resolve_data_dir()
  for split in ('train', 'eval'):
    images, labels = idx.load_split(data_dir, split)
    for span, ranges in SPANS.items():
      start, end = ranges[split]
      clean = noise.to_unit_float(images[start:end]).reshape(end - start, -1)
      ids = [idx.example_id(split, i, span).encode() for i in range(end - start)]
      noisy = noise.add_noise(clean, noise.draw_noise(configs.DEFAULT_SEED, ids),
                              configs.DEFAULT_NOISE_FACTOR)
      os.makedirs(os.path.dirname(_path(data, span, split)), exist_ok=True)
      with tf.io.TFRecordWriter(_path(data, span, split)) as writer:
        for c, n, label, i in zip(clean, noisy, labels[start:end], ids):
          writer.write(to_noisy_example(c, n, int(label), i))


def _scorer(eval_path):
  """A function: model -> (mean per-image PSNR dB, mean SSIM) on eval_path's images."""
  import numpy as np  # pylint: disable=g-import-not-at-top
  from components.model_code import metrics  # pylint: disable=g-import-not-at-top
  from components import eval_images  # pylint: disable=g-import-not-at-top
  _, _, clean, noisy = eval_images.load_eval_images(eval_path)

  def score(model):
    denoised = model.predict(noisy, batch_size=1000, verbose=0)
    return tuple(float(np.mean(metrics.PER_IMAGE[m](clean, denoised))) for m in ('psnr', 'ssim'))
  return score


def _scoring_callback(keras, score, log):
  """Scores the training model before its first epoch and after each; times each epoch."""

  class ScoreEachEpoch(keras.callbacks.Callback):

    def on_train_begin(self, logs=None):
      psnr, ssim = score(self.model)
      log.append({'epoch': 0, 'psnr': psnr, 'ssim': ssim, 'epoch_s': None})

    def on_epoch_begin(self, epoch, logs=None):
      self.start = time.monotonic()

    def on_epoch_end(self, epoch, logs=None):
      seconds = time.monotonic() - self.start
      psnr, ssim = score(self.model)
      log.append({'epoch': epoch + 1, 'psnr': psnr, 'ssim': ssim, 'epoch_s': seconds})
  return ScoreEachEpoch()


def worker(kind, data, model_name, epochs):
  """One run in this process: 'deployed' (span 1, exported), 'cold' or 'warm' (span 2)."""
  import tf_keras  # pylint: disable=g-import-not-at-top
  from components.model_code import denoise_trainer  # pylint: disable=g-import-not-at-top
  tf_keras.utils.set_random_seed(configs.DEFAULT_SEED)
  span = DEPLOYED_SPAN if kind == 'deployed' else NEW_SPAN
  batch = configs.DEFAULT_BATCH_SIZE
  score_new_span = _scorer(_path(data, NEW_SPAN, 'eval'))
  log = []
  start = time.monotonic()
  model, _ = denoise_trainer.train(
      model_name,
      denoise_trainer.make_dataset([_path(data, span, 'train')], batch,
                                   shuffle_seed=configs.DEFAULT_SEED),
      denoise_trainer.make_dataset([_path(data, span, 'eval')], batch),
      epochs, configs.DEFAULT_LEARNING_RATE, seed=configs.DEFAULT_SEED,
      callbacks=[_scoring_callback(tf_keras, score_new_span, log)],
      initial_weights_dir=os.path.join(data, 'deployed') if kind == 'warm' else None)
  result = {'kind': kind, 'epochs': log, 'train_s': time.monotonic() - start}
  if kind == 'deployed':
    denoise_trainer.export_serving_model(model, os.path.join(data, 'deployed'))
    result['own_span_eval'] = _scorer(_path(data, DEPLOYED_SPAN, 'eval'))(model)
  return result


def first_epoch(log, threshold, key='psnr'):
  """The first trained epoch (>= 1) whose score is at least threshold, else None."""
  return next((e['epoch'] for e in log if e['epoch'] >= 1 and e[key] >= threshold), None)


def main():
  parser = argparse.ArgumentParser()
  parser.add_argument('--epochs', type=int, default=10, help='epochs of the span-2 runs')
  parser.add_argument('--deployed_epochs', type=int, default=configs.DEFAULT_EPOCHS)
  parser.add_argument('--model', default=configs.DEFAULT_MODEL)
  parser.add_argument('--worker', choices=['deployed', 'cold', 'warm'])
  parser.add_argument('--data', help='(worker) the directory write_spans wrote')
  args = parser.parse_args()
  if args.worker:
    common.report(worker(args.worker, args.data, args.model,
                         args.deployed_epochs if args.worker == 'deployed' else args.epochs))
    return

  common.header('Warm start on a new span: epochs to reach the deployed quality, warm vs cold')
  start = time.monotonic()
  with tempfile.TemporaryDirectory() as data:
    write_spans(data)
    run = lambda kind: common.run_worker(
        'bench.warm_start', '--worker', kind, '--data', data, '--model', args.model,
        '--epochs', args.epochs, '--deployed_epochs', args.deployed_epochs)
    deployed = run('deployed')
    runs = {kind: run(kind) for kind in ('cold', 'warm')}
  target_psnr, target_ssim = deployed['epochs'][-1]['psnr'], deployed['epochs'][-1]['ssim']
  gate = target_psnr - configs.DEFAULT_MAX_PSNR_DROP_DB

  deployed_s = [e['epoch_s'] for e in deployed['epochs'][1:]]
  print(f'Deployed: {args.model}, {args.deployed_epochs} epochs cold on span 1 '
        f'({sum(deployed_s):.0f} s, {sum(deployed_s) / len(deployed_s):.1f} s/epoch); '
        f'span 1 eval {deployed["own_span_eval"][0]:.2f} dB / {deployed["own_span_eval"][1]:.4f}; '
        f'target = span 2 eval {target_psnr:.2f} dB PSNR, {target_ssim:.4f} SSIM\n')
  cold, warm = runs['cold']['epochs'], runs['warm']['epochs']
  rows = [[c['epoch'], c['psnr'], c['ssim'], c['epoch_s'] or '-',
           w['psnr'], w['ssim'], w['epoch_s'] or '-'] for c, w in zip(cold, warm)]
  common.table(['epoch on span 2', 'cold PSNR dB', 'cold SSIM', 'cold s', 'warm PSNR dB',
                'warm SSIM', 'warm s'], rows)

  def when(log, threshold, key='psnr'):
    epoch = first_epoch(log, threshold, key)
    return epoch if epoch is not None else f'not in {args.epochs}'

  print()
  common.table(['start', f'epoch 0 PSNR (target {target_psnr:.2f})', 'first epoch >= target PSNR',
                f'first epoch >= {gate:.2f} (gate)', 'first epoch >= target SSIM',
                'best PSNR (epoch)'],
               [[name, log[0]['psnr'], when(log, target_psnr), when(log, gate),
                 when(log, target_ssim, 'ssim'),
                 '{0[psnr]:.2f} ({0[epoch]})'.format(max(log[1:], key=lambda e: e['psnr']))]
                for name, log in (('cold', cold), ('warm', warm))])
  print(f'\ntotal {time.monotonic() - start:.0f} s')


if __name__ == '__main__':
  main()
