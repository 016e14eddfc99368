"""Which artifact and data locations the pipeline's image can use, checked before anything runs.

Components read and write through tf.io.gfile and Beam's file systems, and find
out that a scheme is not implemented only when they run, on the cluster. The
image handles local paths (inside its container) and gs:// (TensorFlow's
tensorflow-io-gcs-filesystem, Beam's GCS file system). Not s3:// (so not MinIO,
open-source Kubeflow's default store, which speaks S3): tensorflow-io 0.37.1,
the release built for TF 2.16, implements it, but a process that used s3://
aborts as it exits (tensorflow/io issue 2039, fixed after that release), so
every task would be marked failed. No TensorFlow import here: the runner
checks its flags before it imports TensorFlow.
"""
import re

REMOTE_SCHEMES = ('gs',)

# TensorFlow's rule (tensorflow/core/platform/path.cc, ParseURI): a scheme is
# [a-zA-Z][0-9a-zA-Z.]* followed by "://"; anything else is a local path.
_URI = re.compile(r'([a-zA-Z][0-9a-zA-Z.]*)://([^/]*)')

S3_NOTE = ('s3:// (and MinIO, Kubeflow\'s default store) is not supported yet: '
           'tensorflow-io 0.37.1 aborts every process that used it as it exits')


def uri_scheme(uri):
  """'gs' for gs://bucket/dir, '' for a local path."""
  match = _URI.match(uri)
  return match.group(1) if match else ''


def check_storage_uri(uri, what):
  """Raises ValueError unless the image can read and write `uri`.

  Args:
    uri: a local path or a URI such as gs://bucket/dir.
    what: how the user gave it, for the message, e.g. '--pipeline_root'.
  """
  match = _URI.match(uri)
  if not match:
    return
  scheme, bucket = match.groups()
  if scheme not in REMOTE_SCHEMES:
    supported = ', '.join(f'{s}://BUCKET/...' for s in REMOTE_SCHEMES)
    raise ValueError(
        f'{what} {uri}: the pipeline image cannot read or write {scheme}:// (no file '
        f'system for it in TensorFlow or Beam there). Use a local path or {supported}'
        f'{"; " + S3_NOTE if scheme in ("s3", "minio") else ""}.')
  if not bucket:
    raise ValueError(f'{what} {uri}: no bucket name after {scheme}://')
