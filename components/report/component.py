"""DenoiseReport: every run's report, as files and as what the KFP UI shows."""
from tfx import types
from tfx.dsl.components.base import base_component
from tfx.dsl.components.base import executor_spec
from tfx.types import standard_artifacts
from tfx.types.component_spec import ChannelParameter
from tfx.types.component_spec import ComponentSpec
from tfx.types.component_spec import ExecutionParameter

from artifact_types import DenoiseReportArtifact
from components import code_fingerprint
from components import keys
from components.report import executor
import system


class DenoiseReportSpec(ComponentSpec):
  PARAMETERS = {keys.CODE_FINGERPRINT_KEY: ExecutionParameter(type=str)}
  INPUTS = {
      keys.MODEL_KEY: ChannelParameter(type=standard_artifacts.Model),
      keys.EXAMPLES_KEY: ChannelParameter(type=standard_artifacts.Examples),
      keys.EVALUATION_KEY: ChannelParameter(type=standard_artifacts.ModelEvaluation),
      keys.BASELINE_MODEL_KEY: ChannelParameter(type=standard_artifacts.Model),
      keys.PUSHED_MODEL_KEY: ChannelParameter(type=standard_artifacts.PushedModel),
  }
  OUTPUTS = {
      keys.REPORT_KEY: ChannelParameter(type=DenoiseReportArtifact),
      keys.METRICS_KEY: ChannelParameter(type=system.Metrics),
      keys.HTML_REPORT_KEY: ChannelParameter(type=system.HTML),
  }


class DenoiseReport(base_component.BaseComponent):

  SPEC_CLASS = DenoiseReportSpec
  EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(executor.Executor)

  def __init__(self, model, examples, evaluation, baseline_model, pushed_model):
    super().__init__(spec=DenoiseReportSpec(
        code_fingerprint=code_fingerprint.fingerprint(__file__),
        model=model, examples=examples, evaluation=evaluation,
        baseline_model=baseline_model, pushed_model=pushed_model,
        report=types.Channel(type=DenoiseReportArtifact),
        metrics=types.Channel(type=system.Metrics),
        html_report=types.Channel(type=system.HTML)))
