"""GatedEvaluator: TFX's Evaluator with the four blessing gates as parameters of their own.

The executor is TFX's (TFMA); only the EvalConfig is built at run time from
the gates, so that each gate can be a Kubeflow pipeline parameter (a pipeline
parameter can only set a whole execution property, not a field inside the
Evaluator's eval_config).
"""
from tfx import types
from tfx.dsl.components.base import base_beam_component
from tfx.dsl.components.base import executor_spec
from tfx.types import standard_artifacts
from tfx.types.component_spec import ChannelParameter
from tfx.types.component_spec import ComponentSpec
from tfx.types.component_spec import ExecutionParameter
from tfx.utils import json_utils

from components import code_fingerprint
from components import keys
from components.evaluation import executor


class GatedEvaluatorSpec(ComponentSpec):
  PARAMETERS = {
      keys.EXAMPLE_SPLITS_KEY: ExecutionParameter(type=str),  # a JSON list, as TFX's
      keys.MIN_PSNR_GAIN_DB_KEY: ExecutionParameter(type=float),
      keys.MIN_SSIM_KEY: ExecutionParameter(type=float),
      keys.MAX_PSNR_DROP_DB_KEY: ExecutionParameter(type=float),
      keys.MAX_SSIM_DROP_KEY: ExecutionParameter(type=float),
      keys.CODE_FINGERPRINT_KEY: ExecutionParameter(type=str),
  }
  INPUTS = {
      keys.EXAMPLES_KEY: ChannelParameter(type=standard_artifacts.Examples),
      keys.MODEL_KEY: ChannelParameter(type=standard_artifacts.Model),
      keys.BASELINE_MODEL_KEY: ChannelParameter(type=standard_artifacts.Model),
  }
  OUTPUTS = {
      keys.EVALUATION_KEY: ChannelParameter(type=standard_artifacts.ModelEvaluation),
      keys.BLESSING_KEY: ChannelParameter(type=standard_artifacts.ModelBlessing),
  }


class GatedEvaluator(base_beam_component.BaseBeamComponent):
  """Evaluates the candidate against the baseline and blesses it, or not."""

  SPEC_CLASS = GatedEvaluatorSpec
  EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(executor.Executor)

  def __init__(self, examples, model, baseline_model, example_splits,
               min_psnr_gain_db, min_ssim, max_psnr_drop_db, max_ssim_drop):
    super().__init__(spec=GatedEvaluatorSpec(
        code_fingerprint=code_fingerprint.fingerprint(__file__),
        examples=examples, model=model, baseline_model=baseline_model,
        example_splits=json_utils.dumps(example_splits),
        min_psnr_gain_db=min_psnr_gain_db, min_ssim=min_ssim,
        max_psnr_drop_db=max_psnr_drop_db, max_ssim_drop=max_ssim_drop,
        evaluation=types.Channel(type=standard_artifacts.ModelEvaluation),
        blessing=types.Channel(type=standard_artifacts.ModelBlessing)))
