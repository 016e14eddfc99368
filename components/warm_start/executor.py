"""WarmStartModel executor: copies a deployed version into a Model artifact, the Trainer's base model."""
import os

from absl import logging
from tfx.dsl.components.base import base_executor
from tfx.types import artifact_utils
from tfx.utils import path_utils

from components import keys
from components import serving_dir as serving_dir_lib


class Executor(base_executor.BaseExecutor):
  """The given deployed version as a Model, or an empty Model: start from scratch."""

  def Do(self, input_dict, output_dict, exec_properties):
    """Writes the base model and records which version it is.

    Args:
      input_dict: none.
      output_dict: `base_model`: a Model whose Format-Serving/ holds the
        version's SavedModel, or nothing; its `deployed_version` property is
        the version ('' for none).
      exec_properties: `serving_dir`; `warm_start_version`, what DataSpans
        chose; `code_fingerprint` (only a cache key).
    """
    version = exec_properties[keys.WARM_START_VERSION_KEY]
    base_model = artifact_utils.get_single_instance(output_dict[keys.BASE_MODEL_KEY])
    base_model.set_string_custom_property(keys.DEPLOYED_VERSION_KEY, version)
    if not version:
      logging.info('Warm start: none, training starts from initial weights.')
      return
    source = os.path.join(exec_properties[keys.SERVING_DIR_KEY], version)
    serving_dir_lib.check_deployable(source)
    serving_dir_lib.replace_tree(source, path_utils.serving_model_path(base_model.uri))
    logging.info('Warm start: from deployed version %s', source)
