"""Runs a few components through LocalDagRunner and reads ML Metadata back."""
import os

from ml_metadata import metadata_store
from tfx.orchestration import pipeline as tfx_pipeline
from tfx.orchestration.local.local_dag_runner import LocalDagRunner

from components.data_spans import executor as data_spans_executor
from components.ingestion.component import FashionMnistExampleGen
from pipeline import local_run


def metadata_config(root):
  return local_run.metadata_config(root)


def run_components(components, root, name='test-pipeline', beam_args=None):
  """Runs the components; returns the metadata connection config."""
  config = metadata_config(root)
  pipeline = tfx_pipeline.Pipeline(
      pipeline_name=name, pipeline_root=os.path.join(root, 'artifacts'),
      components=components, enable_cache=False, metadata_connection_config=config,
      beam_pipeline_args=beam_args or [])  # Beam's in-process default, as locally
  LocalDagRunner().run(pipeline)
  return config


def example_gen(data_dir, **kwargs):
  """FashionMnistExampleGen of a directory of the four files (span 0), without DataSpans."""
  return FashionMnistExampleGen(
      input_spans=data_spans_executor.input_spans_value(data_dir, [0], 'sha256:not computed'),
      **kwargs)


def live_artifacts(config, type_name):
  """Published (LIVE) artifacts of a type."""
  store = metadata_store.MetadataStore(config)
  return [a for a in store.get_artifacts_by_type(type_name) if a.state == a.LIVE]
