"""DeployedModelBaseline executor: copies the deployed version, or the candidate, into a Model artifact."""
import os

from absl import logging
from tfx.dsl.components.base import base_executor
from tfx.types import artifact_utils
from tfx.utils import path_utils

from components import keys
from components import serving_dir as serving_dir_lib


class Executor(base_executor.BaseExecutor):
  """The newest deployed version as a Model, or the candidate when none is."""

  def Do(self, input_dict, output_dict, exec_properties):
    """Writes the baseline model and records which version it is.

    Args:
      input_dict: `model`: the candidate, its own baseline when nothing is deployed.
      output_dict: `baseline_model`: a Model whose Format-Serving/ holds the
        baseline SavedModel; its `deployed_version` property is the version
        copied ('' for the candidate), which the pusher compares and swaps.
      exec_properties: `serving_dir` (the push destination); `deployed_version`
        (only a cache key: the version is read from serving_dir here);
        `code_fingerprint` (only a cache key).
    """
    candidate = artifact_utils.get_single_instance(input_dict[keys.MODEL_KEY])
    baseline = artifact_utils.get_single_instance(output_dict[keys.BASELINE_MODEL_KEY])
    serving_dir = exec_properties[keys.SERVING_DIR_KEY]
    version = serving_dir_lib.latest_version(serving_dir)
    if version is None:
      source = path_utils.serving_model_path(candidate.uri)
      logging.info('Nothing deployed in %s: the candidate is its own baseline.',
                   serving_dir)
    else:
      source = os.path.join(serving_dir, version)
      # A broken deployment fails the run here, named, before anything is pushed.
      serving_dir_lib.check_deployable(source)
      logging.info('Baseline: deployed version %s', source)
    serving_dir_lib.replace_tree(source, path_utils.serving_model_path(baseline.uri))
    baseline.set_string_custom_property(keys.DEPLOYED_VERSION_KEY, version or '')
