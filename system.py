"""The Kubeflow Pipelines UI's own artifact types, as TFX artifact classes.

The KFP UI renders an artifact by its type name: `system.Metrics` as a table of
its scalar metadata (the run page's Visualization tab, and the run comparison),
`system.HTML` as a page read from its URI. TFX compiles a custom artifact's
TYPE_NAME to that type name, and a Kubeflow container imports the class by it
('<module>.<Class>'): so this top-level module is named `system`.
"""
from tfx import types


class Metrics(types.Artifact):
  """Scalar metrics, as custom properties; the URI holds nothing."""
  TYPE_NAME = 'system.Metrics'


class HTML(types.ValueArtifact):
  """One self-contained HTML page, the file at the artifact's URI.

  A ValueArtifact, since the UI reads the URI as one file: TFX's local launcher
  then creates a file there, not a directory; on Kubeflow the URI is the one
  the KFP launcher chose, written as is.
  """
  TYPE_NAME = 'system.HTML'

  def encode(self, value):
    return value.encode('utf-8')

  def decode(self, serialized_value):
    return serialized_value.decode('utf-8')
