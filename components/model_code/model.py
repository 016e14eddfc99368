"""The denoising models (Keras 2, `tf_keras`, as TFMA 0.47 requires)."""
import math
import numbers

import tf_keras as keras
from tf_keras import layers

from pipeline import configs

IMAGE_SHAPE = (configs.IMAGE_SIZE, configs.IMAGE_SIZE, 1)


def tutorial_model():
  """The tutorial's Denoise: 28x28 -> 7x7 -> 28x28, two strided convs each way."""
  images = keras.Input(IMAGE_SHAPE, name=configs.SERVING_INPUT_KEY)
  x = layers.Conv2D(16, 3, strides=2, padding='same', activation='relu')(images)
  x = layers.Conv2D(8, 3, strides=2, padding='same', activation='relu')(x)
  x = layers.Conv2DTranspose(8, 3, strides=2, padding='same', activation='relu')(x)
  x = layers.Conv2DTranspose(16, 3, strides=2, padding='same', activation='relu')(x)
  # float32 output so mixed precision never changes what a client receives.
  denoised = layers.Conv2D(1, 3, padding='same', activation='sigmoid',
                           dtype='float32')(x)
  return keras.Model(images, denoised, name='tutorial')


def unet_model(width=16):
  """A small two-level U-Net: the tutorial's strided encoder and decoder plus skips.

  The skips hand the decoder what the bottleneck loses: the 14x14 features,
  and at full resolution the noisy image itself. Full-resolution layers are
  the expensive ones here, so there are only two.
  """
  images = keras.Input(IMAGE_SHAPE, name=configs.SERVING_INPUT_KEY)
  down_14 = layers.Conv2D(width, 3, strides=2, padding='same', activation='relu')(images)
  down_7 = layers.Conv2D(2 * width, 3, strides=2, padding='same', activation='relu')(down_14)
  up_14 = layers.Conv2DTranspose(width, 3, strides=2, padding='same', activation='relu')(down_7)
  up_14 = layers.Conv2D(width, 3, padding='same', activation='relu')(
      layers.Concatenate()([up_14, down_14]))
  up_28 = layers.Conv2DTranspose(width, 3, strides=2, padding='same', activation='relu')(up_14)
  up_28 = layers.Conv2D(width, 3, padding='same', activation='relu')(
      layers.Concatenate()([up_28, images]))
  denoised = layers.Conv2D(1, 3, padding='same', activation='sigmoid',
                           dtype='float32')(up_28)
  return keras.Model(images, denoised, name='unet')


MODELS = {'tutorial': tutorial_model, 'unet': unet_model}
assert tuple(MODELS) == configs.MODEL_NAMES


def build_model(name):
  if name not in MODELS:
    raise ValueError(f'model must be one of {", ".join(MODELS)}, got {name!r}')
  return MODELS[name]()


def validate_training_params(model, epochs, batch_size, learning_rate):
  """Raises ValueError naming the first out-of-range training parameter."""
  if model not in MODELS:
    raise ValueError(f'model must be one of {", ".join(MODELS)}, got {model!r}')
  for name, value in (('epochs', epochs), ('batch_size', batch_size)):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
      raise ValueError(f'{name} must be an integer >= 1, got {value!r}')
  if (isinstance(learning_rate, bool) or not isinstance(learning_rate, numbers.Real)
      or not math.isfinite(learning_rate) or learning_rate <= 0):
    raise ValueError(f'learning_rate must be a finite number > 0, got {learning_rate!r}')
