"""GatedEvaluator executor: TFX's Evaluator executor, given the EvalConfig its gates make."""
from tfx.components.evaluator import executor as evaluator_executor
from tfx.utils import proto_utils

from components import keys
from components.evaluation import eval_config


class Executor(evaluator_executor.Executor):
  """TFX's Evaluator (TFMA), its EvalConfig built from the gates at run time."""

  def Do(self, input_dict, output_dict, exec_properties):
    """Evaluates and blesses, as TFX's Evaluator does.

    Args:
      input_dict: `examples` (augmented), `model` (the candidate),
        `baseline_model` (the deployed model, or the candidate itself).
      output_dict: `evaluation` (TFMA metrics overall and per class, and the
        validation result) and `blessing` (BLESSED or NOT_BLESSED).
      exec_properties: `example_splits` (JSON list), and the gates
        `min_psnr_gain_db`, `min_ssim`, `max_psnr_drop_db`.
    """
    config = eval_config.make_eval_config(
        *(exec_properties[key] for key in keys.GATE_KEYS))
    super().Do(input_dict, output_dict, {
        keys.EXAMPLE_SPLITS_KEY: exec_properties[keys.EXAMPLE_SPLITS_KEY],
        keys.EVAL_CONFIG_KEY: proto_utils.proto_to_json(config),
    })
