"""Image-quality metrics, per image and as TFMA (tf_keras) metrics.

TFMA's native metrics flatten an image label into 784 scalar pairs and loop
over them in Python; these compute in-graph on whole images. The Evaluator
feeds the label (the clean image) as [batch, 784] and the prediction as
[batch, 28, 28, 2]: channel 0 the denoised image, channel 1 the noisy input.
"""
import tensorflow as tf
import tf_keras

from components import features

_SIZE = features.IMAGE_SIZE
DENOISED_CHANNEL = 0
NOISY_CHANNEL = 1


def as_images(x, channels=1):
  return tf.reshape(tf.cast(x, tf.float32), [-1, _SIZE, _SIZE, channels])


def mse_per_image(clean, image):
  return tf.reduce_mean(tf.square(as_images(clean) - as_images(image)), axis=[1, 2, 3])


def psnr_per_image(clean, image):
  # A perfect image has infinite PSNR; a floor on the error keeps means finite.
  mse = tf.maximum(mse_per_image(clean, image), 1e-10)
  return 10.0 * tf.math.log(features.PSNR_MAX_VALUE ** 2 / mse) / tf.math.log(10.0)


def ssim_per_image(clean, image):
  return tf.image.ssim(as_images(clean), as_images(image), max_val=features.PSNR_MAX_VALUE)


PER_IMAGE = {'mse': mse_per_image, 'psnr': psnr_per_image, 'ssim': ssim_per_image}


class _MeanPerImage(tf_keras.metrics.Metric):
  """Mean over images of a per-image quality measure of one channel."""

  measure = None       # a key of PER_IMAGE
  channel = DENOISED_CHANNEL
  default_name = None

  def __init__(self, name=None, dtype=None):
    super().__init__(name=name or self.default_name, dtype=dtype)
    self.total = self.add_weight('total', initializer='zeros')
    self.count = self.add_weight('count', initializer='zeros')

  def per_image(self, clean, pair):
    return PER_IMAGE[self.measure](clean, pair[..., self.channel])

  def update_state(self, y_true, y_pred, sample_weight=None):
    values = self.per_image(as_images(y_true), as_images(y_pred, channels=2))
    self.total.assign_add(tf.reduce_sum(values))
    self.count.assign_add(tf.cast(tf.size(values), tf.float32))

  def result(self):
    return tf.math.divide_no_nan(self.total, self.count)

  def reset_state(self):
    self.total.assign(0.0)
    self.count.assign(0.0)

  def get_config(self):
    return {'name': self.name, 'dtype': self.dtype}


class DenoisedMSE(_MeanPerImage):
  measure, default_name = 'mse', features.MSE_METRIC


class DenoisedPSNR(_MeanPerImage):
  measure, default_name = 'psnr', features.PSNR_METRIC


class DenoisedSSIM(_MeanPerImage):
  measure, default_name = 'ssim', features.SSIM_METRIC


class NoisyMSE(_MeanPerImage):
  measure, channel, default_name = 'mse', NOISY_CHANNEL, features.NOISY_MSE_METRIC


class NoisyPSNR(_MeanPerImage):
  measure, channel, default_name = 'psnr', NOISY_CHANNEL, features.NOISY_PSNR_METRIC


class NoisySSIM(_MeanPerImage):
  measure, channel, default_name = 'ssim', NOISY_CHANNEL, features.NOISY_SSIM_METRIC


class PSNRGain(_MeanPerImage):
  """Mean per-image PSNR of the denoised image minus that of the noisy input."""
  default_name = features.PSNR_GAIN_METRIC

  def per_image(self, clean, pair):
    return (psnr_per_image(clean, pair[..., DENOISED_CHANNEL]) -
            psnr_per_image(clean, pair[..., NOISY_CHANNEL]))


METRIC_CLASSES = (DenoisedMSE, DenoisedPSNR, DenoisedSSIM,
                  NoisyMSE, NoisyPSNR, NoisySSIM, PSNRGain)
