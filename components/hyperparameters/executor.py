"""TrainingHyperparameters executor: checks the hyperparameters and writes them as a Tuner would."""
import json
import os

from tfx.dsl.components.base import base_executor
from tfx.types import artifact_utils
from tfx.utils import io_utils

from components import keys
from components.model_code import hparams

# The name TFX's Tuner gives its output; the Trainer reads the only file there.
FILE_NAME = 'best_hyperparameters.txt'


class Executor(base_executor.BaseExecutor):
  """Writes {'space': [], 'values': {...}}: keras_tuner's HyperParameters config."""

  def Do(self, input_dict, output_dict, exec_properties):
    """Validates and writes the hyperparameters.

    Args:
      input_dict: none.
      output_dict: `hyperparameters`: a HyperParameters artifact holding one
        JSON file, which the Trainer hands to run_fn as fn_args.hyperparameters.
      exec_properties: `model`, `epochs`, `batch_size`, `learning_rate`;
        `code_fingerprint` (only a cache key).
    """
    values = {key: exec_properties[key] for key in keys.TRAINING_PARAMETER_KEYS}
    hparams.validate_training_params(**values)
    output = artifact_utils.get_single_instance(output_dict[keys.HYPERPARAMETERS_KEY])
    io_utils.write_string_file(os.path.join(output.uri, FILE_NAME),
                               json.dumps({'space': [], 'values': values}))
