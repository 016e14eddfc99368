"""DataGate: stops the run before anything trains on data that failed validation.

TFX's ExampleValidator and DistributionValidator record anomalies but never
fail. This gate reads them and fails, naming each one (feature, kind,
measured value, threshold), so that the run stops with exit status 1; the
NoiseAugmenter, and so the Trainer, run after it. It is an ordering, not an
input, of the NoiseAugmenter: the gate executes again whenever the deployed
model changes (its drift baseline does), and that must not change the
NoiseAugmenter's cache key.
"""
from tfx.dsl.components.base import base_component
from tfx.dsl.components.base import executor_spec
from tfx.types import standard_artifacts
from tfx.types.component_spec import ChannelParameter
from tfx.types.component_spec import ComponentSpec
from tfx.types.component_spec import ExecutionParameter

from components import code_fingerprint
from components import keys
from components.data_gate import executor


class DataGateSpec(ComponentSpec):
  PARAMETERS = {keys.CODE_FINGERPRINT_KEY: ExecutionParameter(type=str)}
  INPUTS = {key: ChannelParameter(type=standard_artifacts.ExampleAnomalies)
            for key in executor.CHECKS}
  OUTPUTS = {}


class DataGate(base_component.BaseComponent):

  SPEC_CLASS = DataGateSpec
  EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(executor.Executor)

  def __init__(self, schema_anomalies, drift_anomalies, skew_anomalies):
    super().__init__(spec=DataGateSpec(**{
        keys.CODE_FINGERPRINT_KEY: code_fingerprint.fingerprint(__file__),
        keys.SCHEMA_ANOMALIES_KEY: schema_anomalies,
        keys.DRIFT_ANOMALIES_KEY: drift_anomalies,
        keys.SKEW_ANOMALIES_KEY: skew_anomalies}))
