"""DenoisePusher executor: decides whether to push, pushes, and records why."""
import json
import os

from absl import logging
import tensorflow_model_analysis as tfma
from tfx.components.util import model_utils
from tfx.dsl.components.base import base_executor
from tfx.types import artifact_utils
from tfx.utils import io_utils
from tfx.utils import path_utils

from components import keys
from components import serving_dir as serving_dir_lib
from components.evaluation import eval_config
from components.hyperparameters import executor as hyperparameters_executor
from components.ingestion import spans


def decide_push(blessed, validation_reasons, model_uri, deployed_metadata):
  """(push?, reason) from the blessing and what is deployed now."""
  if not blessed:
    return False, 'not blessed: ' + ('; '.join(validation_reasons) or 'see the evaluation')
  if deployed_metadata.get('model_uri') == model_uri:
    return False, (f'already deployed as version {deployed_metadata.get("version")}: '
                   'not pushed again')
  return True, 'blessed'


def training_record(examples, hyperparameters_dir, base_model, statistics=None):
  """What a pushed version learnt, for its push metadata: DataSpans and DeployedStatistics read it.

  The architecture, the spans and fingerprint of its examples, the version
  it started from (None: from initial weights) and the URI of its data's
  statistics (None without data validation).
  """
  values = json.loads(io_utils.read_string_file(
      os.path.join(hyperparameters_dir, hyperparameters_executor.FILE_NAME)))['values']
  return {
      keys.MODEL_NAME_KEY: values[keys.MODEL_NAME_KEY],
      keys.SPAN_NUMBERS_PROPERTY: spans.parse_span_numbers(
          examples.get_string_custom_property(keys.SPAN_NUMBERS_PROPERTY)),
      keys.INPUT_FINGERPRINT_PROPERTY: examples.get_string_custom_property(
          keys.INPUT_FINGERPRINT_PROPERTY),
      keys.WARM_STARTED_FROM_PROPERTY: base_model.get_string_custom_property(
          keys.DEPLOYED_VERSION_KEY) or None,
      keys.STATISTICS_URI_PROPERTY: statistics.uri if statistics else None,
  }


def published_by(serving_dir, pushed_model_uri, compared_with):
  """The version this execution's PushedModel published, or None.

  A retried execution has the same output URI, and its earlier attempt may
  have published before it failed: that version is this execution's push,
  not a model "already deployed". Only versions newer than the one the
  Evaluator compared against can be it.
  """
  for version in reversed(serving_dir_lib.versions(serving_dir)):
    if compared_with and int(version) <= int(compared_with):
      return None
    metadata = serving_dir_lib.read_push_metadata(os.path.join(serving_dir, version))
    if metadata.get(keys.PUSHED_MODEL_URI_PROPERTY) == pushed_model_uri:
      return version
  return None


class Executor(base_executor.BaseExecutor):
  """Pushes a blessed model that is not deployed yet."""

  def Do(self, input_dict, output_dict, exec_properties):
    """Pushes `model` to a new version of `serving_dir`, or records why not.

    Args:
      input_dict: `model`, its `model_blessing`, the `evaluation` whose
        failed gates explain a refusal, and the `baseline_model` whose
        `newest_version` property is what served when the model was judged:
        the push happens only if that is still the newest version. What the
        push metadata records the model learnt: the `examples` it was
        trained on (their spans and fingerprint), the `hyperparameters`
        (its architecture), the `base_model` it started from and, with data
        validation, the `statistics` of its data.
      output_dict: `pushed_model`: properties `pushed` (0/1), `reason`, and
        when pushed `pushed_destination` and `pushed_version`. Its URI is
        recorded in the push metadata: an execution retried with the same
        URI reports the version it published and publishes nothing more.
      exec_properties: `serving_dir`: the versioned push destination;
        `code_fingerprint` (only a cache key).
    """
    model = artifact_utils.get_single_instance(input_dict[keys.MODEL_KEY])
    compared_with = artifact_utils.get_single_instance(
        input_dict[keys.BASELINE_MODEL_KEY]).get_string_custom_property(
            keys.NEWEST_VERSION_PROPERTY)
    blessing = artifact_utils.get_single_instance(input_dict[keys.MODEL_BLESSING_KEY])
    evaluation = artifact_utils.get_single_instance(input_dict[keys.EVALUATION_KEY])
    pushed = artifact_utils.get_single_instance(output_dict[keys.PUSHED_MODEL_KEY])
    serving_dir = exec_properties[keys.SERVING_DIR_KEY]

    blessed = model_utils.is_model_blessed(blessing)
    reasons = [] if blessed else eval_config.explain_failures(
        tfma.load_validation_result(evaluation.uri))
    # Only a blessed model was published, by an earlier attempt or now.
    published = published_by(serving_dir, pushed.uri, compared_with) if blessed else None
    if published:
      push, reason = True, 'blessed'
      destination = os.path.join(serving_dir, published)
      logging.info('Pusher: an earlier attempt of this execution published version %s',
                   published)
    else:
      latest = serving_dir_lib.latest_version(serving_dir)
      deployed = (serving_dir_lib.read_push_metadata(f'{serving_dir}/{latest}')
                  if latest else {})
      push, reason = decide_push(blessed, reasons, model.uri, deployed)
      logging.info('Pusher: %s', reason)
    if push and not published:
      try:
        destination = serving_dir_lib.publish(
            path_utils.serving_model_path(model.uri), serving_dir,
            dict(training_record(
                artifact_utils.get_single_instance(input_dict[keys.EXAMPLES_KEY]),
                artifact_utils.get_single_instance(input_dict[keys.HYPERPARAMETERS_KEY]).uri,
                artifact_utils.get_single_instance(input_dict[keys.BASE_MODEL_KEY]),
                (input_dict.get(keys.STATISTICS_KEY) or [None])[0]),
                 model_uri=model.uri, model_id=model.id,
                 **{keys.PUSHED_MODEL_URI_PROPERTY: pushed.uri}), compared_with)
      except serving_dir_lib.DeploymentChanged as changed:
        push, reason = False, str(changed)
        logging.warning('Pusher: %s', reason)
    pushed.set_string_custom_property(keys.PUSH_REASON_PROPERTY, reason)
    if not push:
      pushed.set_int_custom_property(keys.PUSHED_PROPERTY, 0)
      return
    pushed.set_int_custom_property(keys.PUSHED_PROPERTY, 1)
    pushed.set_string_custom_property(keys.PUSHED_DESTINATION_PROPERTY, destination)
    pushed.set_string_custom_property(keys.PUSHED_VERSION_PROPERTY,
                                      destination.rstrip('/').rsplit('/', 1)[-1])
