"""DeployedModelBaseline: the best deployed model, as the Evaluator's baseline.

It replaces the latest-blessed-model Resolver, which open-source Kubeflow
Pipelines cannot execute: it reads the versions of the push destination and
hands on the one of the highest mean PSNR on this run's eval images (the
newest of equals). With nothing deployed it hands on the candidate itself,
with an empty `deployed_version`: the Evaluator then evaluates the candidate
once, and the absolute thresholds alone decide.

Caching: the execution must change exactly when the deployed versions do,
an older one deleted by hand included (it may have been the best). Locally,
the runner passes them all as `deployed_versions` (part of the cache key); on
Kubeflow the compiled task has caching disabled.
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
from components.baseline import executor


class DeployedModelBaselineSpec(ComponentSpec):
  PARAMETERS = {
      keys.SERVING_DIR_KEY: ExecutionParameter(type=str),
      keys.DEPLOYED_VERSIONS_KEY: ExecutionParameter(type=str),   # comma-separated
      keys.CODE_FINGERPRINT_KEY: ExecutionParameter(type=str),
  }
  INPUTS = {keys.MODEL_KEY: ChannelParameter(type=standard_artifacts.Model),
            keys.EXAMPLES_KEY: ChannelParameter(type=standard_artifacts.Examples)}
  OUTPUTS = {keys.BASELINE_MODEL_KEY: ChannelParameter(type=standard_artifacts.Model)}


class DeployedModelBaseline(base_component.BaseComponent):

  SPEC_CLASS = DeployedModelBaselineSpec
  EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(executor.Executor)

  def __init__(self, model, examples, serving_dir, deployed_versions=()):
    super().__init__(spec=DeployedModelBaselineSpec(
        code_fingerprint=code_fingerprint.fingerprint(__file__),
        model=model, examples=examples, serving_dir=serving_dir,
        deployed_versions=','.join(deployed_versions),
        baseline_model=types.Channel(type=standard_artifacts.Model)))
