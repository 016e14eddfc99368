"""DenoisePusher: pushes a blessed model to a new version of the serving directory.

Unlike the stock Pusher it pushes only if what serves is still the version
the Evaluator compared against (compare-and-swap, one pusher at a time),
publishes a version complete or not at all, never overwrites one, never
pushes the model that is already deployed a second time, and records why it
did not push.
"""
from tfx import types
from tfx.dsl.components.base import base_component
from tfx.dsl.components.base import executor_spec
from tfx.types import standard_artifacts
from tfx.types.component_spec import ChannelParameter
from tfx.types.component_spec import ComponentSpec
from tfx.types.component_spec import ExecutionParameter

from components import code_fingerprint
from components import keys
from components.pusher import executor


class DenoisePusherSpec(ComponentSpec):
  PARAMETERS = {
      keys.SERVING_DIR_KEY: ExecutionParameter(type=str),
      keys.CODE_FINGERPRINT_KEY: ExecutionParameter(type=str),
  }
  INPUTS = {
      keys.MODEL_KEY: ChannelParameter(type=standard_artifacts.Model),
      keys.MODEL_BLESSING_KEY: ChannelParameter(type=standard_artifacts.ModelBlessing),
      keys.EVALUATION_KEY: ChannelParameter(type=standard_artifacts.ModelEvaluation),
      # What served when the Evaluator judged: its newest_version property.
      keys.BASELINE_MODEL_KEY: ChannelParameter(type=standard_artifacts.Model),
      # What the model learnt, recorded with a pushed version: the examples'
      # spans and fingerprint, the architecture, the version it started from.
      keys.EXAMPLES_KEY: ChannelParameter(type=standard_artifacts.Examples),
      keys.HYPERPARAMETERS_KEY: ChannelParameter(type=standard_artifacts.HyperParameters),
      keys.BASE_MODEL_KEY: ChannelParameter(type=standard_artifacts.Model),
      # With data validation: the statistics of that data, the next runs' drift baseline.
      keys.STATISTICS_KEY: ChannelParameter(type=standard_artifacts.ExampleStatistics,
                                            optional=True),
  }
  OUTPUTS = {keys.PUSHED_MODEL_KEY: ChannelParameter(type=standard_artifacts.PushedModel)}


class DenoisePusher(base_component.BaseComponent):

  SPEC_CLASS = DenoisePusherSpec
  EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(executor.Executor)

  def __init__(self, model, model_blessing, evaluation, baseline_model, examples,
               hyperparameters, base_model, serving_dir, statistics=None):
    super().__init__(spec=DenoisePusherSpec(
        code_fingerprint=code_fingerprint.fingerprint(__file__),
        model=model, model_blessing=model_blessing, evaluation=evaluation,
        baseline_model=baseline_model, examples=examples, hyperparameters=hyperparameters,
        base_model=base_model, serving_dir=serving_dir, statistics=statistics,
        pushed_model=types.Channel(type=standard_artifacts.PushedModel)))
