"""The Evaluator's configuration, and its results read back: metrics per slice, failed gates in words.

Metrics are the in-graph image metrics of components/model_code/metrics.py;
blessing gates are TFMA thresholds on the overall slice.
"""
import tensorflow_model_analysis as tfma

from components import features
from components.evaluation import gates
from components.model_code import metrics as metrics_lib

METRICS_MODULE = metrics_lib.__name__
CANDIDATE = tfma.CANDIDATE_KEY
BASELINE = tfma.BASELINE_KEY


def _overall_threshold(threshold):
  return [tfma.PerSliceMetricThreshold(slicing_specs=[tfma.SlicingSpec()],
                                       threshold=threshold)]


def make_eval_config(min_psnr_gain_db, min_ssim, max_psnr_drop_db, max_ssim_drop,
                     has_baseline=True):
  """Metrics overall and per class; gates on the overall slice only.

  The noisy input's metrics and the PSNR gain depend on the data alone: with
  a baseline, only the candidate computes them, so the noisy images' SSIM is
  not computed twice.
  """
  gates.validate_thresholds(min_psnr_gain_db, min_ssim, max_psnr_drop_db, max_ssim_drop)
  higher_is_better = tfma.MetricDirection.HIGHER_IS_BETTER

  def metric(cls, per_slice_thresholds=None):
    return tfma.MetricConfig(class_name=cls.__name__, module=METRICS_MODULE,
                             per_slice_thresholds=per_slice_thresholds)

  return tfma.EvalConfig(
      # tf_generic always: TFMA otherwise guesses, and guesses Keras whenever
      # tf.keras happens to be Keras 2 in the process (tensorflow_transform's
      # import makes it so); as Keras it re-applies the compiled loss to the
      # [batch, 784] label and the two-channel prediction, and fails.
      model_specs=[tfma.ModelSpec(model_type=tfma.TF_GENERIC,
                                  signature_name=features.EXAMPLES_SIGNATURE,
                                  label_key=features.CLEAN_KEY,
                                  prediction_key=features.EVAL_OUTPUT_KEY)],
      slicing_specs=[tfma.SlicingSpec(),
                     tfma.SlicingSpec(feature_keys=[features.LABEL_KEY])],
      metrics_specs=[
          tfma.MetricsSpec(metrics=[
              metric(metrics_lib.DenoisedMSE),
              metric(metrics_lib.DenoisedPSNR, _overall_threshold(tfma.MetricThreshold(
                  change_threshold=tfma.GenericChangeThreshold(
                      direction=higher_is_better,
                      absolute={'value': -max_psnr_drop_db})))),
              metric(metrics_lib.DenoisedSSIM, _overall_threshold(tfma.MetricThreshold(
                  value_threshold=tfma.GenericValueThreshold(lower_bound={'value': min_ssim}),
                  change_threshold=tfma.GenericChangeThreshold(
                      direction=higher_is_better,
                      absolute={'value': -max_ssim_drop})))),
          ]),
          # TFMA names the models 'candidate' and 'baseline' when there are two,
          # and leaves a lone model unnamed.
          tfma.MetricsSpec(model_names=[CANDIDATE] if has_baseline else [], metrics=[
              metric(metrics_lib.NoisyMSE),
              metric(metrics_lib.NoisyPSNR),
              metric(metrics_lib.NoisySSIM),
              metric(metrics_lib.PSNRGain, _overall_threshold(tfma.MetricThreshold(
                  value_threshold=tfma.GenericValueThreshold(
                      lower_bound={'value': min_psnr_gain_db})))),
          ]),
      ])


def explain_failures(validation_result):
  """One readable sentence per failed threshold of a tfma ValidationResult."""
  reasons = []
  for per_slice in validation_result.metric_validations_per_slice:
    for failure in per_slice.failures:
      key, threshold, value = failure.metric_key, failure.metric_threshold, failure.metric_value
      actual = value.double_value.value
      name = key.name + (' change vs baseline' if key.is_diff else '')
      if threshold.HasField('value_threshold'):
        bound = threshold.value_threshold.lower_bound.value
        reasons.append(f'{name} {actual:.4f} is below the threshold {bound:.4f} '
                       f'by {bound - actual:.4f}')
      elif threshold.HasField('change_threshold'):
        bound = threshold.change_threshold.absolute.value
        reasons.append(f'{name} {actual:+.4f} is below the allowed {bound:+.4f} '
                       f'by {bound - actual:.4f}')
      else:
        reasons.append(f'{name}: {failure.message}')
  return reasons


def slice_name(slice_key):
  """'overall' or 'label=<class name>' for a tfma slice key tuple."""
  if not slice_key:
    return 'overall'
  parts = []
  for feature, value in slice_key:
    if feature == features.LABEL_KEY and 0 <= int(value) < len(features.CLASS_NAMES):
      parts.append(f'{feature}={int(value)} ({features.CLASS_NAMES[int(value)]})')
    else:
      parts.append(f'{feature}={value}')
  return ', '.join(parts)


def load_metrics(evaluation_uri):
  """{slice name: {model name: {metric: value}}}, plus 'diff' for changes."""
  result = {}
  for metrics_for_slice in tfma.load_metrics(evaluation_uri):
    name = slice_name(tfma.slicer.deserialize_slice_key(metrics_for_slice.slice_key))
    per_model = result.setdefault(name, {})
    for kv in metrics_for_slice.metric_keys_and_values:
      key = kv.key
      model = 'diff' if key.is_diff else (BASELINE if key.model_name == BASELINE else CANDIDATE)
      if kv.value.HasField('double_value'):
        per_model.setdefault(model, {})[key.name] = kv.value.double_value.value
  return result
