"""Training throughput: the Trainer's tf.data input and model vs the tutorial's in-memory fit.

  python -m bench.train_throughput [--epochs 3] [--images N] [--no-unet]

Ours: make_dataset over NoiseAugmenter-format TFRecords (written beforehand,
untimed) and train() as run_fn calls it. Baseline: the tutorial's
`fit(x_noisy, x)` on numpy arrays (Keras 3 tf.keras, as written). Same model,
batch 32, same images. The first epoch (tracing, filling the cache) is reported
apart; images/s are over the later epochs. Then the U-Net against the tutorial
model, both through our Trainer path, 10 epochs each: time per epoch and test PSNR.
"""
import argparse
import os
import tempfile
import time

from bench import common
from pipeline import configs


def _write_noisy_tfrecords(path, split, limit):
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from components.noise import noise  # pylint: disable=g-import-not-at-top
  from components.noise.executor import to_noisy_example  # pylint: disable=g-import-not-at-top
  clean, ids = common.real_images(split, limit)
  clean = clean.reshape(len(clean), -1)
  noisy = noise.add_noise(clean, noise.draw_noise(configs.DEFAULT_SEED, ids),
                          configs.DEFAULT_NOISE_FACTOR)
  with tf.io.TFRecordWriter(path) as writer:
    for c, n, i in zip(clean, noisy, ids):
      writer.write(to_noisy_example(c, n, 0, i))
  return len(ids)


def _epoch_timer(keras, epoch_times):
  class EpochTimer(keras.callbacks.Callback):

    def on_epoch_begin(self, epoch, logs=None):
      self.start = time.monotonic()

    def on_epoch_end(self, epoch, logs=None):
      epoch_times.append(time.monotonic() - self.start)
  return EpochTimer()


def ours(model_name, epochs, images):
  """Our Trainer path; returns epoch times and test PSNR."""
  import numpy as np  # pylint: disable=g-import-not-at-top
  import tf_keras  # pylint: disable=g-import-not-at-top
  from components.model_code import denoise_trainer  # pylint: disable=g-import-not-at-top
  from components.model_code import metrics  # pylint: disable=g-import-not-at-top
  from components import eval_images  # pylint: disable=g-import-not-at-top
  with tempfile.TemporaryDirectory() as tmp:
    train_path, eval_path = os.path.join(tmp, 'train'), os.path.join(tmp, 'eval')
    n = _write_noisy_tfrecords(train_path, 'train', images)
    _write_noisy_tfrecords(eval_path, 'eval', None)
    epoch_times = []
    batch = configs.DEFAULT_BATCH_SIZE
    model, _ = denoise_trainer.train(
        model_name, denoise_trainer.make_dataset([train_path], batch, shuffle_seed=configs.DEFAULT_SEED),
        denoise_trainer.make_dataset([eval_path], batch), epochs, configs.DEFAULT_LEARNING_RATE,
        seed=configs.DEFAULT_SEED,
        callbacks=[_epoch_timer(tf_keras, epoch_times)])
    _, _, clean, noisy = eval_images.load_eval_images(eval_path)
    denoised = model.predict(noisy, batch_size=1000, verbose=0)
  return {'epoch_s': epoch_times, 'images': n,
          'psnr': float(np.mean(metrics.psnr_per_image(clean, denoised)))}


def tutorial(epochs, images):
  """The tutorial's fit on in-memory arrays, timed per epoch."""
  from bench import tutorial as tutorial_lib  # pylint: disable=g-import-not-at-top
  result = tutorial_lib.run(epochs, images, None)
  return {'epoch_s': result['epoch_s'], 'images': result['train_images'], 'psnr': result['psnr']}


def _throughput(result):
  later = result['epoch_s'][1:] or result['epoch_s']
  return result['images'] * len(later) / sum(later)


def main():
  parser = argparse.ArgumentParser()
  parser.add_argument('--epochs', type=int, default=3)
  parser.add_argument('--unet_epochs', type=int, default=10)
  parser.add_argument('--images', type=int, default=60000)
  parser.add_argument('--no-unet', dest='unet', action='store_false')
  parser.add_argument('--worker', choices=['ours', 'tutorial'])
  parser.add_argument('--model', default='tutorial')
  args = parser.parse_args()
  if args.worker == 'ours':
    common.report(ours(args.model, args.epochs, args.images))
    return
  if args.worker == 'tutorial':
    common.report(tutorial(args.epochs, args.images))
    return

  common.header('Training throughput: Trainer input pipeline vs tutorial in-memory fit')
  run = lambda *a: common.run_worker('bench.train_throughput', '--images', args.images, *a)
  ours_result = run('--epochs', args.epochs, '--worker', 'ours')
  tutorial_result = run('--epochs', args.epochs, '--worker', 'tutorial')
  rows = [[name, r['images'], r['epoch_s'][0], sum(r['epoch_s'][1:]) / max(len(r['epoch_s']) - 1, 1),
           _throughput(r), r['peak_mb']]
          for name, r in (('Trainer: TFRecords -> tf.data -> tf_keras fit (16 steps/call)', ours_result),
                          ('tutorial: fit on numpy arrays (Keras 3)', tutorial_result))]
  common.table(['training', 'images', 'first epoch s', 'later epochs s', 'images/s',
                'peak MB'], rows)
  ratio = _throughput(ours_result) / _throughput(tutorial_result)
  print(f'\nratio (ours / tutorial images per second): {ratio:.2f}   goal: >= 1.0\n')
  results = {'ours': ours_result, 'tutorial': tutorial_result, 'ratio': ratio}

  if args.unet:
    print(f'U-Net vs tutorial model, both through the Trainer path, {args.unet_epochs} epochs, '
          'noise 0.2, all eval images:\n')
    models = {m: run('--epochs', args.unet_epochs, '--worker', 'ours', '--model', m)
              for m in ('tutorial', 'unet')}
    rows = [[m, sum(r['epoch_s']), sum(r['epoch_s']) / len(r['epoch_s']), r['psnr']]
            for m, r in models.items()]
    common.table(['model', 'training s', 's / epoch', 'test PSNR dB'], rows)
    gain = models['unet']['psnr'] - models['tutorial']['psnr']
    time_ratio = sum(models['unet']['epoch_s']) / sum(models['tutorial']['epoch_s'])
    print(f'\nU-Net: {gain:+.2f} dB PSNR (goal >= +2) in {time_ratio:.1f}x the training time '
          '(goal <= 3x)')
    results['models'] = models
  common.save('train_throughput', results)


if __name__ == '__main__':
  main()
