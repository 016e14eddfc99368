"""DeployedModelBaseline: the model deployed now, as the Evaluator's baseline.

It replaces the latest-blessed-model Resolver, which open-source Kubeflow
Pipelines cannot execute: it reads the newest version of the push
destination. With nothing deployed it hands on the candidate itself, so
every change is 0 and the absolute thresholds alone decide.

Caching: the execution must change exactly when the deployed model does.
Locally, the runner passes the newest deployed version as `deployed_version`
(part of the cache key); on Kubeflow the compiled task has caching disabled.
"""
import os

from absl import logging
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

from components import serving_dir as serving_dir_lib

DEPLOYED_VERSION_PROPERTY = 'deployed_version'


class DeployedModelBaselineSpec(ComponentSpec):
  PARAMETERS = {
      'serving_dir': ExecutionParameter(type=str),
      'deployed_version': ExecutionParameter(type=str),
  }
  INPUTS = {'model': ChannelParameter(type=standard_artifacts.Model)}
  OUTPUTS = {'baseline_model': ChannelParameter(type=standard_artifacts.Model)}


class Executor(base_executor.BaseExecutor):

  def Do(self, input_dict, output_dict, exec_properties):
    candidate = artifact_utils.get_single_instance(input_dict['model'])
    baseline = artifact_utils.get_single_instance(output_dict['baseline_model'])
    serving_dir = exec_properties['serving_dir']
    version = serving_dir_lib.latest_version(serving_dir)
    if version is None:
      source = path_utils.serving_model_path(candidate.uri)
      logging.info('Nothing deployed in %s: the candidate is its own baseline.',
                   serving_dir)
    else:
      source = os.path.join(serving_dir, version)
      logging.info('Baseline: deployed version %s', source)
    serving_dir_lib.copy_tree(source, path_utils.serving_model_path(baseline.uri))
    baseline.set_string_custom_property(DEPLOYED_VERSION_PROPERTY, version or '')


class DeployedModelBaseline(base_component.BaseComponent):

  SPEC_CLASS = DeployedModelBaselineSpec
  EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(Executor)

  def __init__(self, model, serving_dir, deployed_version=''):
    super().__init__(spec=DeployedModelBaselineSpec(
        model=model, serving_dir=serving_dir, deployed_version=deployed_version,
        baseline_model=types.Channel(type=standard_artifacts.Model)))
