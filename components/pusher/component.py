"""DenoisePusher: pushes a blessed model to a new version of the serving directory.

Unlike the stock Pusher it publishes a version atomically (staged, then
renamed), never overwrites one, never pushes the model that is already
deployed a second time, and records why it did not push.
"""
from absl import logging
import tensorflow_model_analysis as tfma
from tfx import types
from tfx.components.util import model_utils
from tfx.dsl.components.base import base_component
from tfx.dsl.components.base import base_executor
from tfx.dsl.components.base import executor_spec
from tfx.types import artifact_utils
from tfx.types import standard_artifacts
from tfx.types.component_spec import ChannelParameter
from tfx.types.component_spec import ComponentSpec
from tfx.types.component_spec import ExecutionParameter
from tfx.utils import path_utils

from components.evaluation import eval_config
from components import serving_dir as serving_dir_lib

# Custom properties of the PushedModel artifact; the first three as the stock Pusher.
PUSHED = 'pushed'
PUSHED_DESTINATION = 'pushed_destination'
PUSHED_VERSION = 'pushed_version'
REASON = 'reason'


class DenoisePusherSpec(ComponentSpec):
  PARAMETERS = {'serving_dir': ExecutionParameter(type=str)}
  INPUTS = {
      'model': ChannelParameter(type=standard_artifacts.Model),
      'model_blessing': ChannelParameter(type=standard_artifacts.ModelBlessing),
      'evaluation': ChannelParameter(type=standard_artifacts.ModelEvaluation),
  }
  OUTPUTS = {'pushed_model': ChannelParameter(type=standard_artifacts.PushedModel)}


def decide_push(blessed, validation_reasons, model_uri, deployed_metadata):
  """(push?, reason) from the blessing and what is deployed now."""
  if not blessed:
    return False, 'not blessed: ' + ('; '.join(validation_reasons) or 'see the evaluation')
  if deployed_metadata.get('model_uri') == model_uri:
    return False, (f'already deployed as version {deployed_metadata.get("version")}: '
                   'not pushed again')
  return True, 'blessed'


class Executor(base_executor.BaseExecutor):

  def Do(self, input_dict, output_dict, exec_properties):
    model = artifact_utils.get_single_instance(input_dict['model'])
    blessing = artifact_utils.get_single_instance(input_dict['model_blessing'])
    evaluation = artifact_utils.get_single_instance(input_dict['evaluation'])
    pushed = artifact_utils.get_single_instance(output_dict['pushed_model'])
    serving_dir = exec_properties['serving_dir']

    blessed = model_utils.is_model_blessed(blessing)
    reasons = [] if blessed else eval_config.explain_failures(
        tfma.load_validation_result(evaluation.uri))
    latest = serving_dir_lib.latest_version(serving_dir)
    deployed = (serving_dir_lib.read_push_metadata(f'{serving_dir}/{latest}')
                if latest else {})
    push, reason = decide_push(blessed, reasons, model.uri, deployed)
    logging.info('Pusher: %s', reason)
    pushed.set_string_custom_property(REASON, reason)
    if not push:
      pushed.set_int_custom_property(PUSHED, 0)
      return
    destination = serving_dir_lib.push(
        path_utils.serving_model_path(model.uri), serving_dir,
        {'model_uri': model.uri, 'model_id': model.id})
    pushed.set_int_custom_property(PUSHED, 1)
    pushed.set_string_custom_property(PUSHED_DESTINATION, destination)
    pushed.set_string_custom_property(PUSHED_VERSION, destination.rstrip('/').rsplit('/', 1)[-1])


class DenoisePusher(base_component.BaseComponent):

  SPEC_CLASS = DenoisePusherSpec
  EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(Executor)

  def __init__(self, model, model_blessing, evaluation, serving_dir):
    super().__init__(spec=DenoisePusherSpec(
        model=model, model_blessing=model_blessing, evaluation=evaluation,
        serving_dir=serving_dir,
        pushed_model=types.Channel(type=standard_artifacts.PushedModel)))
