"""DenoiseReport: a human-readable report artifact for every run."""
import os

import tensorflow as tf
import tensorflow_model_analysis as tfma
from tfx import types
from tfx.dsl.components.base import base_component
from tfx.dsl.components.base import base_executor
from tfx.dsl.components.base import executor_spec
from tfx.types import artifact_utils
from tfx.types import standard_artifacts
from tfx.types.component_spec import ChannelParameter
from tfx.types.component_spec import ComponentSpec
from tfx.types.component_spec import ExecutionParameter
from tfx.utils import path_utils

from components.baseline.component import DEPLOYED_VERSION_PROPERTY
from components.evaluation import eval_config
from components.pusher import component as pusher_component
from components.report import report
from pipeline import configs


class DenoiseReportArtifact(types.Artifact):
  """metrics.json, denoise_grid.png, robustness.json and robustness.png."""
  # Kubeflow needs '<module>.<Class>': the container imports the type by it
  # (components/__init__.py exports the class).
  TYPE_NAME = 'components.DenoiseReportArtifact'


class DenoiseReportSpec(ComponentSpec):
  PARAMETERS = {
      'noise_factor': ExecutionParameter(type=float),
      'seed': ExecutionParameter(type=int),
  }
  INPUTS = {
      'model': ChannelParameter(type=standard_artifacts.Model),
      'examples': ChannelParameter(type=standard_artifacts.Examples),
      'evaluation': ChannelParameter(type=standard_artifacts.ModelEvaluation),
      'baseline_model': ChannelParameter(type=standard_artifacts.Model),
      'pushed_model': ChannelParameter(type=standard_artifacts.PushedModel),
  }
  OUTPUTS = {'report': ChannelParameter(type=DenoiseReportArtifact)}


class Executor(base_executor.BaseExecutor):

  def Do(self, input_dict, output_dict, exec_properties):
    model = artifact_utils.get_single_instance(input_dict['model'])
    examples = artifact_utils.get_single_instance(input_dict['examples'])
    evaluation = artifact_utils.get_single_instance(input_dict['evaluation'])
    baseline = artifact_utils.get_single_instance(input_dict['baseline_model'])
    pushed = artifact_utils.get_single_instance(input_dict['pushed_model'])
    output = artifact_utils.get_single_instance(output_dict['report'])

    validation = tfma.load_validation_result(evaluation.uri)
    serving_fn = tf.saved_model.load(
        path_utils.serving_model_path(model.uri)).signatures['serving_default']
    is_pushed = bool(pushed.get_int_custom_property(pusher_component.PUSHED))
    report.write_report(
        output.uri,
        evaluation_metrics=eval_config.load_metrics(evaluation.uri),
        validation_ok=bool(validation.validation_ok),
        reasons=eval_config.explain_failures(validation),
        deployed_version=baseline.get_string_custom_property(DEPLOYED_VERSION_PROPERTY),
        pushed=is_pushed,
        push_reason=pushed.get_string_custom_property(pusher_component.REASON),
        pushed_model_dir=(pushed.get_string_custom_property(
            pusher_component.PUSHED_DESTINATION) if is_pushed else None),
        serving_fn=serving_fn,
        eval_file_pattern=os.path.join(
            artifact_utils.get_split_uri([examples], configs.EVAL_SPLIT), '*'),
        noise_factor=float(exec_properties['noise_factor']),
        seed=int(exec_properties['seed']))


class DenoiseReport(base_component.BaseComponent):

  SPEC_CLASS = DenoiseReportSpec
  EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(Executor)

  def __init__(self, model, examples, evaluation, baseline_model, pushed_model,
               noise_factor, seed):
    super().__init__(spec=DenoiseReportSpec(
        model=model, examples=examples, evaluation=evaluation,
        baseline_model=baseline_model, pushed_model=pushed_model,
        noise_factor=float(noise_factor), seed=int(seed),
        report=types.Channel(type=DenoiseReportArtifact)))
