"""The tutorial's script, as written (Keras 3 `tf.keras`, in-memory numpy): the baseline.

  python -m bench.tutorial [--epochs 10] [--train N] [--eval N]

Reports wall time, time per epoch, test MSE, and mean per-image PSNR and SSIM of
the model and of the noisy input.
"""
import argparse
import time

from bench import common


def run(epochs, train_limit, eval_limit):
  start = time.monotonic()
  import numpy as np  # pylint: disable=g-import-not-at-top
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from tensorflow.keras import layers, losses  # pylint: disable=g-import-not-at-top
  from tensorflow.keras.models import Model  # pylint: disable=g-import-not-at-top
  from components.model_code import metrics  # pylint: disable=g-import-not-at-top

  x_train, _ = common.real_images('train', train_limit)
  x_test, _ = common.real_images('eval', eval_limit)
  noise_factor = 0.2
  x_train_noisy = tf.clip_by_value(
      x_train + noise_factor * tf.random.normal(shape=x_train.shape), 0., 1.)
  x_test_noisy = tf.clip_by_value(
      x_test + noise_factor * tf.random.normal(shape=x_test.shape), 0., 1.)

  class Denoise(Model):

    def __init__(self):
      super().__init__()
      self.encoder = tf.keras.Sequential([
          layers.Input(shape=(28, 28, 1)),
          layers.Conv2D(16, (3, 3), activation='relu', padding='same', strides=2),
          layers.Conv2D(8, (3, 3), activation='relu', padding='same', strides=2)])
      self.decoder = tf.keras.Sequential([
          layers.Conv2DTranspose(8, kernel_size=3, strides=2, activation='relu', padding='same'),
          layers.Conv2DTranspose(16, kernel_size=3, strides=2, activation='relu', padding='same'),
          layers.Conv2D(1, kernel_size=(3, 3), activation='sigmoid', padding='same')])

    def call(self, x):
      return self.decoder(self.encoder(x))

  epoch_times = []

  class EpochTimer(tf.keras.callbacks.Callback):

    def on_epoch_begin(self, epoch, logs=None):
      self.start = time.monotonic()

    def on_epoch_end(self, epoch, logs=None):
      epoch_times.append(time.monotonic() - self.start)

  autoencoder = Denoise()
  autoencoder.compile(optimizer='adam', loss=losses.MeanSquaredError())
  autoencoder.fit(x_train_noisy, x_train, epochs=epochs, shuffle=True,
                  validation_data=(x_test_noisy, x_test), callbacks=[EpochTimer()], verbose=0)
  denoised = autoencoder.predict(x_test_noisy, verbose=0)

  def mean(name, image):
    return float(np.mean(metrics.PER_IMAGE[name](x_test, image)))

  return {'wall_s': time.monotonic() - start, 'epoch_s': epoch_times,
          'train_images': len(x_train),
          'mse': mean('mse', denoised), 'psnr': mean('psnr', denoised),
          'ssim': mean('ssim', denoised), 'noisy_psnr': mean('psnr', x_test_noisy),
          'noisy_ssim': mean('ssim', x_test_noisy)}


def main():
  parser = argparse.ArgumentParser()
  parser.add_argument('--epochs', type=int, default=10)
  parser.add_argument('--train', type=int, default=None, help='first N training images')
  parser.add_argument('--eval', type=int, default=None, help='first N test images')
  args = parser.parse_args()
  common.report(run(args.epochs, args.train, args.eval))


if __name__ == '__main__':
  main()
