"""WarmStartModel: the deployed version DataSpans chose, as the Trainer's `base_model`.

Unlike DeployedModelBaseline it copies a version named by its parameter,
never whatever is newest, so it is cached like any step: the same version,
the same artifact, and the Trainer's cache key is unchanged.
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
from components.warm_start import executor


class WarmStartModelSpec(ComponentSpec):
  PARAMETERS = {
      keys.SERVING_DIR_KEY: ExecutionParameter(type=str),
      keys.WARM_START_VERSION_KEY: ExecutionParameter(type=str),   # '' = none
      keys.CODE_FINGERPRINT_KEY: ExecutionParameter(type=str),
  }
  INPUTS = {}
  OUTPUTS = {keys.BASE_MODEL_KEY: ChannelParameter(type=standard_artifacts.Model)}


class WarmStartModel(base_component.BaseComponent):

  SPEC_CLASS = WarmStartModelSpec
  EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(executor.Executor)

  def __init__(self, serving_dir, warm_start_version):
    super().__init__(spec=WarmStartModelSpec(
        code_fingerprint=code_fingerprint.fingerprint(__file__),
        serving_dir=serving_dir, warm_start_version=warm_start_version,
        base_model=types.Channel(type=standard_artifacts.Model)))
