"""The pipeline's own artifact types, importable by their TYPE_NAME.

A Kubeflow container imports a custom artifact type by its TYPE_NAME, which
the TFX compiler allows only as '<module>.<Class>' with a single dot: so the
types live in this top-level module, and each TYPE_NAME is its import path.
"""
from tfx import types


class DenoiseReportArtifact(types.Artifact):
  """metrics.json, denoise_grid.png, robustness.json and robustness.png of a run."""
  TYPE_NAME = 'artifact_types.DenoiseReportArtifact'
