"""Image metrics against numpy; the blessing thresholds and their explanations."""
import numpy as np
import pytest
import tensorflow_model_analysis as tfma
from tensorflow_model_analysis.proto import validation_result_pb2

from components.evaluation import eval_config
from components.model_code import metrics


def numpy_ssim(a, b, max_val=1.0):
  """SSIM of two 28x28 images: 11x11 Gaussian window (sigma 1.5), valid positions."""
  g = np.exp(-0.5 * ((np.arange(11) - 5) / 1.5) ** 2)
  window = np.outer(g, g) / np.outer(g, g).sum()

  def local_mean(x):
    return np.einsum('ijkl,kl->ij', np.lib.stride_tricks.sliding_window_view(x, (11, 11)), window)

  c1, c2 = (0.01 * max_val) ** 2, (0.03 * max_val) ** 2
  mu_a, mu_b = local_mean(a), local_mean(b)
  var_a = local_mean(a * a) - mu_a ** 2
  var_b = local_mean(b * b) - mu_b ** 2
  cov = local_mean(a * b) - mu_a * mu_b
  return np.mean((2 * mu_a * mu_b + c1) * (2 * cov + c2) /
                 ((mu_a ** 2 + mu_b ** 2 + c1) * (var_a + var_b + c2)))


def numpy_metrics(clean, image):
  mse = ((clean - image) ** 2).mean(axis=(1, 2))
  return {'mse': mse.mean(), 'psnr': (10 * np.log10(1.0 / mse)).mean(),
          'ssim': np.mean([numpy_ssim(c, i) for c, i in zip(clean, image)])}


@pytest.fixture(name='images')
def fixture_images():
  rng = np.random.default_rng(0)
  clean = rng.random((6, 28, 28)).astype(np.float32)
  noisy = np.clip(clean + 0.2 * rng.standard_normal(clean.shape), 0, 1).astype(np.float32)
  denoised = np.clip(clean + 0.05 * rng.standard_normal(clean.shape), 0, 1).astype(np.float32)
  return clean, noisy, denoised


def _result(metric_class, clean, noisy, denoised, batches=2):
  """Feeds the metric as TFMA does: flat labels, [b, 28, 28, 2] predictions, in batches."""
  metric = metric_class()
  pair = np.stack([denoised, noisy], axis=-1)
  for idx in np.array_split(np.arange(len(clean)), batches):
    metric.update_state(clean[idx].reshape(len(idx), -1), pair[idx])
  return float(metric.result())


def test_metrics_match_numpy(images):
  clean, noisy, denoised = images
  want_model, want_noisy = numpy_metrics(clean, denoised), numpy_metrics(clean, noisy)
  for cls, want in ((metrics.DenoisedMSE, want_model['mse']),
                    (metrics.DenoisedPSNR, want_model['psnr']),
                    (metrics.DenoisedSSIM, want_model['ssim']),
                    (metrics.NoisyMSE, want_noisy['mse']),
                    (metrics.NoisyPSNR, want_noisy['psnr']),
                    (metrics.NoisySSIM, want_noisy['ssim']),
                    (metrics.PSNRGain, want_model['psnr'] - want_noisy['psnr'])):
    assert _result(cls, clean, noisy, denoised) == pytest.approx(want, rel=1e-4), cls.__name__


def test_metric_names_are_the_ones_reports_and_reasons_use():
  # The report reads these names, and the run summary's reasons show them.
  assert [cls().name for cls in metrics.METRIC_CLASSES] == [
      'denoised_mse', 'denoised_psnr', 'denoised_ssim', 'noisy_mse', 'noisy_psnr', 'noisy_ssim',
      'psnr_gain']


def test_perfect_image_has_finite_psnr(images):
  clean, noisy, _ = images
  assert np.isfinite(_result(metrics.DenoisedPSNR, clean, noisy, clean))


def test_eval_config_gates_the_overall_slice_only():
  config = eval_config.make_eval_config(min_psnr_gain_db=2.5, min_ssim=0.7, max_psnr_drop_db=0.2,
                                        max_ssim_drop=0.01)
  gates = {}
  for spec in config.metrics_specs:
    for metric in spec.metrics:
      for per_slice in metric.per_slice_thresholds:
        assert list(per_slice.slicing_specs) == [tfma.SlicingSpec()]
        gates[metric.class_name] = per_slice.threshold
  assert set(gates) == {'DenoisedPSNR', 'DenoisedSSIM', 'PSNRGain'}
  assert gates['PSNRGain'].value_threshold.lower_bound.value == 2.5
  assert gates['DenoisedSSIM'].value_threshold.lower_bound.value == 0.7
  # SSIM is compared with the baseline as PSNR is.
  assert gates['DenoisedSSIM'].change_threshold.absolute.value == -0.01
  assert gates['DenoisedPSNR'].change_threshold.absolute.value == -0.2
  assert [s.feature_keys for s in config.slicing_specs] == [[], ['label']]


def _models_per_metric(config):
  return {metric.class_name: list(spec.model_names)
          for spec in config.metrics_specs for metric in spec.metrics}


def test_metrics_of_the_data_alone_are_computed_for_the_candidate_only():
  gates = dict(min_psnr_gain_db=3.0, min_ssim=0.65, max_psnr_drop_db=0.1, max_ssim_drop=0.005)
  everyone = []   # no model names: every model the Evaluator is given
  assert _models_per_metric(eval_config.make_eval_config(**gates)) == {
      'DenoisedMSE': everyone, 'DenoisedPSNR': everyone, 'DenoisedSSIM': everyone,
      'NoisyMSE': ['candidate'], 'NoisyPSNR': ['candidate'], 'NoisySSIM': ['candidate'],
      'PSNRGain': ['candidate']}
  # A lone model is unnamed in TFMA: a name would match nothing.
  alone = _models_per_metric(eval_config.make_eval_config(**gates, has_baseline=False))
  assert len(alone) == 7
  assert all(names == everyone for names in alone.values())


@pytest.mark.parametrize('kwargs, message', [
    ({'min_ssim': 1.5}, 'min_ssim must be in'),
    ({'max_psnr_drop_db': -1.0}, 'max_psnr_drop_db must be >= 0'),
    ({'min_psnr_gain_db': float('nan')}, 'min_psnr_gain_db must be a finite number'),
    ({'min_ssim': True}, 'min_ssim must be a finite number, got True'),
    ({'max_ssim_drop': -0.1}, 'max_ssim_drop must be >= 0'),
])
def test_bad_thresholds_are_refused(kwargs, message):
  gates = dict(dict(min_psnr_gain_db=3.0, min_ssim=0.65, max_psnr_drop_db=0.1,
                    max_ssim_drop=0.005), **kwargs)
  with pytest.raises(ValueError, match=message):
    eval_config.make_eval_config(**gates)


def test_failures_are_explained_with_their_margin():
  result = validation_result_pb2.ValidationResult(validation_ok=False)
  per_slice = result.metric_validations_per_slice.add()
  failure = per_slice.failures.add()
  failure.metric_key.name = 'psnr_gain'
  failure.metric_threshold.value_threshold.lower_bound.value = 3.0
  failure.metric_value.double_value.value = 1.25
  failure = per_slice.failures.add()
  failure.metric_key.name = 'denoised_psnr'
  failure.metric_key.is_diff = True
  failure.metric_threshold.change_threshold.absolute.value = -0.1
  failure.metric_value.double_value.value = -0.6
  assert eval_config.explain_failures(result) == [
      'psnr_gain 1.2500 is below the threshold 3.0000 by 1.7500',
      'denoised_psnr change vs baseline -0.6000 is below the allowed -0.1000 by 0.5000']
