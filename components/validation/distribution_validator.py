"""TFX's DistributionValidator, runnable on Kubeflow V2 as locally.

On Kubeflow, TFX's v2 entrypoint hands a proto execution property to the
executor as its JSON text, where LocalDagRunner hands the proto:
DistributionValidator's executor then fails on `config` ("'str' object has
no attribute 'default_slice_config'"). This executor parses it first; the
rest is TFX's.
"""
from tfx.components.distribution_validator import component
from tfx.components.distribution_validator import executor
from tfx.dsl.components.base import executor_spec
from tfx.proto import distribution_validator_pb2
from tfx.types import standard_component_specs
from tfx.utils import proto_utils

_CONFIG_KEY = standard_component_specs.DISTRIBUTION_VALIDATOR_CONFIG_KEY


class Executor(executor.Executor):

  def Do(self, input_dict, output_dict, exec_properties):
    """TFX's Do, with `distribution_validator_config` parsed when it is JSON text."""
    config = exec_properties.get(_CONFIG_KEY)
    if isinstance(config, str):
      exec_properties = dict(exec_properties, **{_CONFIG_KEY: proto_utils.json_to_proto(
          config, distribution_validator_pb2.DistributionValidatorConfig())})
    return super().Do(input_dict, output_dict, exec_properties)


class DistributionValidator(component.DistributionValidator):
  """TFX's component and spec, with the executor above."""

  EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(Executor)
