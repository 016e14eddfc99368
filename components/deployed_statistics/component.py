"""DeployedStatistics: the statistics of the data the deployed model was trained on.

The drift check's baseline: the pusher records in each version's push
metadata the URI of the statistics of the data the model learnt; this reads
the newest version's. With nothing deployed, or a version that recorded
none, it hands on this run's own statistics: no drift is measured. Cached
like DeployedModelBaseline: locally keyed on the newest deployed version,
uncached on Kubeflow.
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
from components.deployed_statistics import executor


class DeployedStatisticsSpec(ComponentSpec):
  PARAMETERS = {
      keys.SERVING_DIR_KEY: ExecutionParameter(type=str),
      keys.DEPLOYED_VERSION_KEY: ExecutionParameter(type=str),
      keys.CODE_FINGERPRINT_KEY: ExecutionParameter(type=str),
  }
  INPUTS = {keys.STATISTICS_KEY: ChannelParameter(type=standard_artifacts.ExampleStatistics)}
  OUTPUTS = {keys.BASELINE_STATISTICS_KEY: ChannelParameter(
      type=standard_artifacts.ExampleStatistics)}


class DeployedStatistics(base_component.BaseComponent):

  SPEC_CLASS = DeployedStatisticsSpec
  EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(executor.Executor)

  def __init__(self, statistics, serving_dir, deployed_version=''):
    super().__init__(spec=DeployedStatisticsSpec(
        code_fingerprint=code_fingerprint.fingerprint(__file__),
        statistics=statistics, serving_dir=serving_dir, deployed_version=deployed_version,
        baseline_statistics=types.Channel(type=standard_artifacts.ExampleStatistics)))
