"""FashionMnistExampleGen: the four Fashion-MNIST IDX files as a TFX Examples artifact."""
from tfx import types
from tfx.dsl.components.base import base_beam_component
from tfx.dsl.components.base import executor_spec
from tfx.types import standard_artifacts
from tfx.types.component_spec import ChannelParameter
from tfx.types.component_spec import ComponentSpec
from tfx.types.component_spec import ExecutionParameter

from components import code_fingerprint
from components import keys
from components.ingestion import executor


class FashionMnistExampleGenSpec(ComponentSpec):
  PARAMETERS = {
      # DataSpans' output: which spans of which directory, and their
      # fingerprint, which keys the cache.
      keys.INPUT_SPANS_KEY: ExecutionParameter(type=str),
      keys.TRAIN_EXAMPLES_KEY: ExecutionParameter(type=int),   # 0 = all
      keys.EVAL_EXAMPLES_KEY: ExecutionParameter(type=int),    # 0 = all
      keys.CODE_FINGERPRINT_KEY: ExecutionParameter(type=str),
  }
  INPUTS = {}
  OUTPUTS = {keys.EXAMPLES_KEY: ChannelParameter(type=standard_artifacts.Examples)}


class FashionMnistExampleGen(base_beam_component.BaseBeamComponent):
  """Splits `train` (the spans' training images) and `eval` (the latest span's) of image, label and example id."""

  SPEC_CLASS = FashionMnistExampleGenSpec
  EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(executor.Executor)

  def __init__(self, input_spans, train_examples=0, eval_examples=0):
    super().__init__(spec=FashionMnistExampleGenSpec(
        code_fingerprint=code_fingerprint.fingerprint(__file__),
        input_spans=input_spans, train_examples=train_examples,
        eval_examples=eval_examples,
        examples=types.Channel(type=standard_artifacts.Examples)))
