"""The denoising models (Keras 2, `tf_keras`, as TFMA 0.47 requires)."""
import tensorflow as tf
import tf_keras as keras
from tf_keras import layers

from components import features
from components.model_code import hparams


def tutorial_model():
  """The tutorial's Denoise: 28x28 -> 7x7 -> 28x28, two strided convs each way."""
  images = keras.Input(features.IMAGE_SHAPE, name=features.SERVING_INPUT_KEY)
  x = layers.Conv2D(16, 3, strides=2, padding='same', activation='relu')(images)
  x = layers.Conv2D(8, 3, strides=2, padding='same', activation='relu')(x)
  x = layers.Conv2DTranspose(8, 3, strides=2, padding='same', activation='relu')(x)
  x = layers.Conv2DTranspose(16, 3, strides=2, padding='same', activation='relu')(x)
  # float32 output so mixed precision never changes what a client receives.
  denoised = layers.Conv2D(1, 3, padding='same', activation='sigmoid',
                           dtype='float32')(x)
  return keras.Model(images, denoised, name='tutorial')


class SpaceToDepth(layers.Layer):
  """[h, w, c] -> [h/2, w/2, 4c]: each 2x2 block of pixels becomes 4 channels, losslessly."""

  def call(self, inputs):
    return tf.nn.space_to_depth(inputs, 2)


class DepthToSpace(layers.Layer):
  """[h, w, 4c] -> [2h, 2w, c], the inverse of SpaceToDepth."""

  def call(self, inputs):
    return tf.nn.depth_to_space(inputs, 2)


def _conv(filters, strides=1):
  return layers.Conv2D(filters, 3, strides=strides, padding='same', activation='relu')


def unet_model(width=48):
  """A two-level U-Net on pixel-unshuffled images that predicts the noise.

  Space-to-depth turns the 28x28 image into 14x14x4 without losing a pixel,
  so no layer runs at full resolution, where the tutorial model spends most
  of its time on a CPU; the saving pays for 48 and 96 channels against its
  16 and 8 (bench/RESULTS.md). Levels 14x14 and 7x7, joined by a skip; as in
  DnCNN, the network estimates the noise and the output is the noisy image
  minus it, clipped to [0, 1].
  """
  images = keras.Input(features.IMAGE_SHAPE, name=features.SERVING_INPUT_KEY)
  level_14 = _conv(width)(SpaceToDepth()(images))
  level_7 = _conv(2 * width)(_conv(2 * width, strides=2)(level_14))
  up_14 = layers.Conv2DTranspose(width, 3, strides=2, padding='same',
                                 activation='relu')(level_7)
  up_14 = _conv(width)(layers.Add()([up_14, level_14]))
  noise = DepthToSpace()(layers.Conv2D(4, 3, padding='same')(up_14))
  # float32 output so mixed precision never changes what a client receives;
  # ReLU(max_value=1) is the clip to [0, 1].
  noisy_minus_noise = layers.Subtract(dtype='float32')([images, noise])
  denoised = layers.ReLU(max_value=1.0, dtype='float32')(noisy_minus_noise)
  return keras.Model(images, denoised, name='unet')


MODELS = {'tutorial': tutorial_model, 'unet': unet_model}
assert tuple(MODELS) == hparams.MODEL_NAMES
# The models that train in bfloat16 on a CPU that multiplies it in hardware.
# The U-Net's 48- and 96-channel convolutions are bound by arithmetic: its
# Trainer took 0.75x and 0.79x the time in two runs, at the same quality
# (24.08 against 24.06 dB). The tutorial model's took 1.18x and lost 0.14 dB
# (bench/RESULTS.md, issue #23).
BFLOAT16_ON_CPU = frozenset({'unet'})


def build_model(name):
  if name not in MODELS:
    raise ValueError(f'model must be one of {", ".join(MODELS)}, got {name!r}')
  return MODELS[name]()

