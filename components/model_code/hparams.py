"""The Trainer's hyperparameters: model names and the ranges of the training parameters (no TensorFlow)."""
import math
import numbers

MODEL_NAMES = ('tutorial', 'unet')


def validate_training_params(model, epochs, batch_size, learning_rate):
  """Raises ValueError naming the first out-of-range training parameter."""
  if model not in MODEL_NAMES:
    raise ValueError(f'model must be one of {", ".join(MODEL_NAMES)}, got {model!r}')
  for name, value in (('epochs', epochs), ('batch_size', batch_size)):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
      raise ValueError(f'{name} must be an integer >= 1, got {value!r}')
  if (isinstance(learning_rate, bool) or not isinstance(learning_rate, numbers.Real)
      or not math.isfinite(learning_rate) or learning_rate <= 0):
    raise ValueError(f'learning_rate must be a finite number > 0, got {learning_rate!r}')
