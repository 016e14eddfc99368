"""The blessing gates' valid ranges (no TensorFlow: the runners check flags with it first)."""
import math
import numbers


def validate_thresholds(min_psnr_gain_db, min_ssim, max_psnr_drop_db):
  """Raises ValueError naming the first gate that is not a finite number in range."""
  for name, value in (('min_psnr_gain_db', min_psnr_gain_db), ('min_ssim', min_ssim),
                      ('max_psnr_drop_db', max_psnr_drop_db)):
    if (isinstance(value, bool) or not isinstance(value, numbers.Real)
        or not math.isfinite(value)):
      raise ValueError(f'{name} must be a finite number, got {value!r}')
  if not -1.0 <= min_ssim <= 1.0:
    raise ValueError(f'min_ssim must be in [-1, 1], got {min_ssim!r}')
  if max_psnr_drop_db < 0:
    raise ValueError(f'max_psnr_drop_db must be >= 0, got {max_psnr_drop_db!r}')
