"""NoiseAugmenter: adds the tutorial's Gaussian noise to ingested examples, in Beam."""
from tfx import types
from tfx.orchestration import data_types
from tfx.dsl.components.base import base_beam_component
from tfx.dsl.components.base import executor_spec
from tfx.types import standard_artifacts
from tfx.types.component_spec import ChannelParameter
from tfx.types.component_spec import ComponentSpec
from tfx.types.component_spec import ExecutionParameter

from components import code_fingerprint
from components import keys
from components.noise import executor
from components.noise import noise


class NoiseAugmenterSpec(ComponentSpec):
  PARAMETERS = {
      keys.NOISE_FACTOR_KEY: ExecutionParameter(type=float),
      keys.SEED_KEY: ExecutionParameter(type=int),
      keys.CODE_FINGERPRINT_KEY: ExecutionParameter(type=str),
  }
  INPUTS = {keys.EXAMPLES_KEY: ChannelParameter(type=standard_artifacts.Examples)}
  OUTPUTS = {keys.AUGMENTED_EXAMPLES_KEY: ChannelParameter(type=standard_artifacts.Examples)}


class NoiseAugmenter(base_beam_component.BaseBeamComponent):
  """Every example with `clean` and `noisy` float32 images, label and id."""

  SPEC_CLASS = NoiseAugmenterSpec
  EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(executor.Executor)

  def __init__(self, examples, noise_factor, seed):
    """noise_factor and seed: values, or Kubeflow RuntimeParameters (checked when run)."""
    if not isinstance(noise_factor, data_types.RuntimeParameter):
      noise.validate_noise_params(noise_factor, seed)  # fail at construction
      noise_factor = float(noise_factor)
    super().__init__(spec=NoiseAugmenterSpec(
        code_fingerprint=code_fingerprint.fingerprint(__file__),
        examples=examples, noise_factor=noise_factor, seed=int(seed),
        augmented_examples=types.Channel(type=standard_artifacts.Examples)))
