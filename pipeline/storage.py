"""Which artifact and data locations the pipeline's image can use, checked before anything runs.

Components read and write through tf.io.gfile and Beam's file systems, and find
out that a scheme is not implemented only when they run, on the cluster. The
image handles local paths (inside its container), gs:// (TensorFlow's
tensorflow-io-gcs-filesystem, Beam's GCS file system) and s3:// (tensorflow-io,
which every task imports through pipeline/container_entrypoint.py, and Beam's S3
file system through boto3). MinIO, open-source Kubeflow's default store, speaks
S3: its buckets are given as s3:// with the endpoint in the components'
environment, not as minio://. No TensorFlow import here: the runner checks its
flags before it imports TensorFlow.
"""
import re

# Keep in step with the Dockerfile: s3:// needs its tensorflow-io and boto3.
REMOTE_SCHEMES = ('gs', 's3')

# TensorFlow's rule (tensorflow/core/platform/path.cc, ParseURI): a scheme is
# [a-zA-Z][0-9a-zA-Z.]* followed by "://"; anything else is a local path.
_URI = re.compile(r'([a-zA-Z][0-9a-zA-Z.]*)://([^/]*)')

MINIO_HINT = ('a MinIO bucket is s3://BUCKET/... with S3_ENDPOINT and AWS_ENDPOINT_URL '
              '(http://HOST:PORT), AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_REGION '
              "set in the components' environment")


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
        f'system for it in TensorFlow or Beam there). Use a local path or {supported}; '
        f'{MINIO_HINT}.')
  if not bucket:
    raise ValueError(f'{what} {uri}: no bucket name after {scheme}://')
