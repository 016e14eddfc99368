"""The pipeline's components."""


def __getattr__(name):
  # The Kubeflow container imports custom artifact types by TYPE_NAME
  # ('components.DenoiseReportArtifact'); lazily, so that a light submodule
  # does not import TFX.
  if name == 'DenoiseReportArtifact':
    from components.report.component import DenoiseReportArtifact  # pylint: disable=g-import-not-at-top
    return DenoiseReportArtifact
  raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
