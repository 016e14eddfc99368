"""GatedEvaluator executor: TFX's Evaluator executor, given the EvalConfig its gates make."""
from absl import logging
from tfx.components.evaluator import executor as evaluator_executor
from tfx.types import artifact_utils
from tfx.utils import proto_utils

from components import keys
from components import outputs
from components.evaluation import eval_config


class Executor(evaluator_executor.Executor):
  """TFX's Evaluator (TFMA), its EvalConfig built from the gates at run time."""

  def Do(self, input_dict, output_dict, exec_properties):
    """Evaluates and blesses, as TFX's Evaluator does.

    Args:
      input_dict: `examples` (augmented), `model` (the candidate),
        `baseline_model` (the best deployed model; when nothing is deployed, its
        `deployed_version` property is '' and it is the candidate itself,
        which is then not evaluated a second time: TFX's Evaluator, given no
        baseline, blesses on the absolute gates alone).
      output_dict: `evaluation` (TFMA metrics overall and per class, and the
        validation result) and `blessing` (BLESSED or NOT_BLESSED).
      exec_properties: `example_splits` (JSON list), and the gates
        `min_psnr_gain_db`, `min_ssim`, `max_psnr_drop_db`, `max_ssim_drop`;
        `code_fingerprint` (only a cache key).
    """
    baseline = artifact_utils.get_single_instance(input_dict[keys.BASELINE_MODEL_KEY])
    has_baseline = bool(baseline.get_string_custom_property(keys.DEPLOYED_VERSION_KEY))
    if not has_baseline:
      logging.info('Nothing deployed: the candidate is judged by the absolute gates alone.')
      input_dict = {k: v for k, v in input_dict.items() if k != keys.BASELINE_MODEL_KEY}
    for key in (keys.EVALUATION_KEY, keys.BLESSING_KEY):   # what a failed attempt wrote
      outputs.empty_output_dir(artifact_utils.get_single_uri(output_dict[key]))
    config = eval_config.make_eval_config(
        *(exec_properties[key] for key in keys.GATE_KEYS), has_baseline=has_baseline)
    super().Do(input_dict, output_dict, {
        keys.EXAMPLE_SPLITS_KEY: exec_properties[keys.EXAMPLE_SPLITS_KEY],
        keys.EVAL_CONFIG_KEY: proto_utils.proto_to_json(config),
    })
