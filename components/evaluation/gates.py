"""The blessing gates' valid ranges (no TensorFlow: the runners check flags with it first)."""
import math
import numbers


def validate_thresholds(min_psnr_gain_db, min_ssim, max_psnr_drop_db, max_ssim_drop):
  """Raises ValueError naming the first gate that is not a finite number in range."""
  for name, value in (('min_psnr_gain_db', min_psnr_gain_db), ('min_ssim', min_ssim),
                      ('max_psnr_drop_db', max_psnr_drop_db), ('max_ssim_drop', max_ssim_drop)):
    if (isinstance(value, bool) or not isinstance(value, numbers.Real)
        or not math.isfinite(value)):
      raise ValueError(f'{name} must be a finite number, got {value!r}')
  if not -1.0 <= min_ssim <= 1.0:
    raise ValueError(f'min_ssim must be in [-1, 1], got {min_ssim!r}')
  for name, value in (('max_psnr_drop_db', max_psnr_drop_db), ('max_ssim_drop', max_ssim_drop)):
    if value < 0:
      raise ValueError(f'{name} must be >= 0, got {value!r}')


def check_gates_can_pass(noise_factor):
  """Raises ValueError for a setting under which a gate means nothing.

  Without noise the model's input is the clean image: its PSNR is infinite,
  so no denoiser can beat it by --min_psnr_gain_db, a finite number (the
  gain is -inf at best).
  """
  if noise_factor == 0:
    raise ValueError(
        'noise_factor=0: the input is the clean image (infinite PSNR), so the gate '
        '--min_psnr_gain_db can never pass; train with noise_factor > 0')
