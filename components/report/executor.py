"""DenoiseReport executor: gathers what the run decided and measured, and writes the report."""
import os

import tensorflow as tf
import tensorflow_model_analysis as tfma
from tfx.dsl.components.base import base_executor
from tfx.types import artifact_utils
from tfx.utils import path_utils

from components import features
from components import keys
from components.evaluation import eval_config
from components.report import report


def publish_for_kfp_ui(summary, report_dir, metrics, html_report):
  """Fills the artifacts the KFP UI renders from a written report.

  metrics (system.Metrics) gets the scalar metrics as custom properties;
  html_report (system.HTML) gets report.html as the file at its URI, which
  TFX's local launcher has created empty and which on Kubeflow does not exist yet.
  """
  for name, value in report.scalar_metrics(summary).items():
    if isinstance(value, int):
      metrics.set_int_custom_property(name, value)
    else:
      metrics.set_float_custom_property(name, value)
  tf.io.gfile.makedirs(os.path.dirname(html_report.uri))
  tf.io.gfile.copy(os.path.join(report_dir, report.HTML_NAME), html_report.uri, overwrite=True)


class Executor(base_executor.BaseExecutor):
  """Writes the report directory, the scalar metrics and the HTML page."""

  def Do(self, input_dict, output_dict, exec_properties):
    """Reads every upstream decision and writes the three report artifacts.

    Args:
      input_dict: `model` (the candidate), `examples` (augmented; its
        `noise_factor` and `seed` properties drive the sweep), `evaluation`,
        `baseline_model` (its `deployed_version` property), `pushed_model`
        (its `pushed`, `reason` and `pushed_destination` properties).
      output_dict: `report`: the DenoiseReportArtifact directory; `metrics`
        (system.Metrics) and `html_report` (system.HTML), for the KFP UI.
      exec_properties: `code_fingerprint` (only a cache key).
    """
    model = artifact_utils.get_single_instance(input_dict[keys.MODEL_KEY])
    examples = artifact_utils.get_single_instance(input_dict[keys.EXAMPLES_KEY])
    evaluation = artifact_utils.get_single_instance(input_dict[keys.EVALUATION_KEY])
    baseline = artifact_utils.get_single_instance(input_dict[keys.BASELINE_MODEL_KEY])
    pushed = artifact_utils.get_single_instance(input_dict[keys.PUSHED_MODEL_KEY])
    output = artifact_utils.get_single_instance(output_dict[keys.REPORT_KEY])

    validation = tfma.load_validation_result(evaluation.uri)
    serving_fn = tf.saved_model.load(
        path_utils.serving_model_path(model.uri)).signatures[features.SERVING_SIGNATURE]
    is_pushed = bool(pushed.get_int_custom_property(keys.PUSHED_PROPERTY))
    summary = report.write_report(
        output.uri,
        evaluation_metrics=eval_config.load_metrics(evaluation.uri),
        validation_ok=bool(validation.validation_ok),
        reasons=eval_config.explain_failures(validation),
        deployed_version=baseline.get_string_custom_property(keys.DEPLOYED_VERSION_KEY),
        pushed=is_pushed,
        push_reason=pushed.get_string_custom_property(keys.PUSH_REASON_PROPERTY),
        pushed_model_dir=(pushed.get_string_custom_property(
            keys.PUSHED_DESTINATION_PROPERTY) if is_pushed else None),
        serving_fn=serving_fn,
        eval_file_pattern=os.path.join(
            artifact_utils.get_split_uri([examples], features.EVAL_SPLIT), '*'),
        noise_factor=examples.get_float_custom_property(keys.NOISE_FACTOR_KEY),
        seed=examples.get_int_custom_property(keys.SEED_KEY))
    publish_for_kfp_ui(
        summary, output.uri,
        metrics=artifact_utils.get_single_instance(output_dict[keys.METRICS_KEY]),
        html_report=artifact_utils.get_single_instance(output_dict[keys.HTML_REPORT_KEY]))
