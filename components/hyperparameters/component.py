"""TrainingHyperparameters: the Trainer's hyperparameters as an artifact, so that they can be run-time parameters.

A Kubeflow pipeline parameter can only set a whole execution property, and
the Trainer keeps its settings in one JSON `custom_config`. The Trainer's
`hyperparameters` input (where a Tuner's best hyperparameters go) takes them
instead: one property per hyperparameter, each a pipeline parameter on
Kubeflow.
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
from components.hyperparameters import executor


class TrainingHyperparametersSpec(ComponentSpec):
  PARAMETERS = {
      keys.MODEL_NAME_KEY: ExecutionParameter(type=str),
      keys.EPOCHS_KEY: ExecutionParameter(type=int),
      keys.BATCH_SIZE_KEY: ExecutionParameter(type=int),
      keys.LEARNING_RATE_KEY: ExecutionParameter(type=float),
      keys.CODE_FINGERPRINT_KEY: ExecutionParameter(type=str),
  }
  INPUTS = {}
  OUTPUTS = {keys.HYPERPARAMETERS_KEY: ChannelParameter(type=standard_artifacts.HyperParameters)}


class TrainingHyperparameters(base_component.BaseComponent):
  """Model name, epochs, batch size and learning rate for the Trainer's run_fn."""

  SPEC_CLASS = TrainingHyperparametersSpec
  EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(executor.Executor)

  def __init__(self, model, epochs, batch_size, learning_rate):
    super().__init__(spec=TrainingHyperparametersSpec(
        code_fingerprint=code_fingerprint.fingerprint(__file__),
        model=model, epochs=epochs, batch_size=batch_size, learning_rate=learning_rate,
        hyperparameters=types.Channel(type=standard_artifacts.HyperParameters)))
