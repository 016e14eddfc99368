"""DataSpans driver: resolves the spans before the cache is looked up, as TFX's ExampleGen driver.

TFX's launcher runs a component's driver before it computes the cache key
(LocalDagRunner does). Open-source Kubeflow Pipelines runs no driver (TFX
compiles its ExampleGen driver into a container lifecycle hook that
kubeflow/pipelines' backend/src/v2 never reads): there the task is uncached
and its executor resolves.
"""
import json

from tfx.dsl.components.base import base_driver
from tfx.orchestration.portable import base_driver as portable_base_driver
from tfx.proto.orchestration import driver_output_pb2

from components import keys
from components.data_spans import executor


class Driver(base_driver.BaseDriver, portable_base_driver.BaseDriver):
  """A portable driver (run()); TFX requires the legacy base class of components' drivers too."""

  def __init__(self, metadata_handle):
    base_driver.BaseDriver.__init__(self, metadata_handle)
    portable_base_driver.BaseDriver.__init__(self, metadata_handle)

  def run(self, execution_info):
    resolved = executor.resolve_from_properties(execution_info.exec_properties)
    output = driver_output_pb2.DriverOutput()
    output.exec_properties[keys.RESOLVED_KEY].string_value = json.dumps(resolved, sort_keys=True)
    return output
