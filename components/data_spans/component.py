"""DataSpans: which spans of the data directory a run trains on, and from which deployed model.

The first step of the pipeline, cheap (a listing and a checksum of the input
files): it must run on every run, since only it sees new or changed data.
Its two String outputs reach FashionMnistExampleGen and WarmStartModel as
parameters, `.future()[0].value`, so their cache keys hold the resolved
values: locally its driver resolves them before the cache lookup; on
Kubeflow the compiled task is uncached and KFP caches the downstream tasks
on the parameter values it outputs.
"""
from tfx import types
from tfx.dsl.components.base import base_component
from tfx.dsl.components.base import executor_spec
from tfx.types import standard_artifacts
from tfx.types.component_spec import ChannelParameter
from tfx.types.component_spec import ComponentSpec
from tfx.types.component_spec import ExecutionParameter

from components import code_fingerprint
from components import keys
from components.data_spans import driver
from components.data_spans import executor


class DataSpansSpec(ComponentSpec):
  PARAMETERS = {
      keys.DATA_DIR_KEY: ExecutionParameter(type=str),   # '' = looked for at run time
      keys.SPANS_KEY: ExecutionParameter(type=int),
      keys.SERVING_DIR_KEY: ExecutionParameter(type=str),
      keys.WARM_START_KEY: ExecutionParameter(type=int),
      keys.MODEL_NAME_KEY: ExecutionParameter(type=str),
      keys.RESOLVED_KEY: ExecutionParameter(type=str, optional=True),   # by the driver
      keys.CODE_FINGERPRINT_KEY: ExecutionParameter(type=str),
  }
  INPUTS = {}
  OUTPUTS = {
      keys.INPUT_SPANS_KEY: ChannelParameter(type=standard_artifacts.String),
      keys.WARM_START_VERSION_KEY: ChannelParameter(type=standard_artifacts.String),
  }


class DataSpans(base_component.BaseComponent):

  SPEC_CLASS = DataSpansSpec
  EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(executor.Executor)
  DRIVER_CLASS = driver.Driver

  def __init__(self, data_dir, spans, serving_dir, warm_start, model):
    super().__init__(spec=DataSpansSpec(
        code_fingerprint=code_fingerprint.fingerprint(__file__),
        data_dir=data_dir, spans=spans, serving_dir=serving_dir, warm_start=warm_start,
        model=model,
        input_spans=types.Channel(type=standard_artifacts.String),
        warm_start_version=types.Channel(type=standard_artifacts.String)))
