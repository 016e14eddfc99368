"""DeployedStatistics executor: the statistics of the data the deployed model learnt."""
import os

from absl import logging
import tensorflow as tf
from tfx.dsl.components.base import base_executor
from tfx.types import artifact_utils

from components import keys
from components import serving_dir as serving_dir_lib


def recorded_statistics(serving_dir):
  """(deployed version, URI of the statistics its push recorded), or (version or '', None)."""
  version = serving_dir_lib.latest_version(serving_dir)
  if version is None:
    return '', None
  uri = serving_dir_lib.read_push_metadata(os.path.join(serving_dir, version)).get(
      keys.STATISTICS_URI_PROPERTY)
  if uri and tf.io.gfile.isdir(uri):
    return version, uri
  logging.warning('Deployed version %s has no statistics of its data %s: drift is not '
                  'checked this run.', version, f'(gone: {uri})' if uri else 'recorded')
  return version, None


def _copy_dir(source, destination):
  for parent, _, names in tf.io.gfile.walk(source):
    target = os.path.join(destination, os.path.relpath(parent, source))
    tf.io.gfile.makedirs(target)
    for name in names:
      tf.io.gfile.copy(os.path.join(parent, name), os.path.join(target, name), overwrite=True)


class Executor(base_executor.BaseExecutor):
  """Copies the deployed model's training statistics, or this run's when there are none."""

  def Do(self, input_dict, output_dict, exec_properties):
    """Writes the baseline statistics of the drift check.

    Args:
      input_dict: `statistics`: this run's, the baseline when nothing
        deployed has any (no drift then).
      output_dict: `baseline_statistics`: an ExampleStatistics; its
        `deployed_version` property is the version whose data it describes
        ('' for this run's own).
      exec_properties: `serving_dir`; `deployed_version` and `code_fingerprint`
        (only cache keys; the first as DeployedModelBaseline's).
    """
    own = artifact_utils.get_single_instance(input_dict[keys.STATISTICS_KEY])
    baseline = artifact_utils.get_single_instance(output_dict[keys.BASELINE_STATISTICS_KEY])
    version, uri = recorded_statistics(exec_properties[keys.SERVING_DIR_KEY])
    if uri is None:
      version, uri = '', own.uri
    _copy_dir(uri, baseline.uri)
    baseline.split_names = own.split_names
    baseline.set_string_custom_property(keys.DEPLOYED_VERSION_KEY, version)
