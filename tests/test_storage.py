"""pipeline/storage.py: locations the image cannot use are refused before anything runs."""
import subprocess
import sys

import pytest

from pipeline import storage
from tests import conftest


@pytest.mark.parametrize('uri', [
    'gs://bucket/denoise', 'gs://bucket', 's3://bucket/denoise', 's3://bucket', '/mnt/artifacts',
    'relative/dir', '',
    # TensorFlow reads these as local paths too: no "://" after a valid scheme.
    's3:/bucket/dir', 'my-store://bucket'])
def test_usable_locations_pass(uri):
  storage.check_storage_uri(uri, '--pipeline_root')


@pytest.mark.parametrize('uri, scheme', [
    ('minio://mlpipeline/v2/artifacts', 'minio'),
    ('s3a://bucket/dir', 's3a'),
    ('hdfs://namenode/dir', 'hdfs'),
    ('file:///tmp/root', 'file'),
    ('GS://bucket/dir', 'GS'),  # schemes are case-sensitive in tf.io.gfile
])
def test_other_schemes_are_refused_naming_flag_scheme_and_what_works(uri, scheme):
  with pytest.raises(ValueError) as error:
    storage.check_storage_uri(uri, '--serving_dir')
  message = str(error.value)
  assert message.startswith(f'--serving_dir {uri}: ')
  assert f'cannot read or write {scheme}://' in message
  assert 'Use a local path or gs://BUCKET/..., s3://BUCKET/...; ' in message
  # How MinIO, Kubeflow's default store, is reached instead of minio://.
  assert message.endswith('; a MinIO bucket is s3://BUCKET/... with S3_ENDPOINT and '
                          'AWS_ENDPOINT_URL (http://HOST:PORT), AWS_ACCESS_KEY_ID, '
                          'AWS_SECRET_ACCESS_KEY and AWS_REGION set in the components\' '
                          'environment.')


@pytest.mark.parametrize('uri', ['gs:///dir', 'gs://', 's3:///dir', 's3://'])
def test_a_missing_bucket_is_refused(uri):
  with pytest.raises(ValueError, match=f'--data_dir {uri}: no bucket name after '):
    storage.check_storage_uri(uri, '--data_dir')


@pytest.mark.parametrize('uri, scheme', [
    ('gs://b/x', 'gs'), ('s3://b/x', 's3'), ('minio://b', 'minio'), ('/a/b', ''), ('s3:/b', '')])
def test_uri_scheme(uri, scheme):
  assert storage.uri_scheme(uri) == scheme


def test_importing_it_imports_no_tensorflow():
  # The runner checks its flags before the ~25 s TensorFlow import.
  code = 'import sys; import pipeline.storage; print("tensorflow" in sys.modules)'
  result = subprocess.run([sys.executable, '-c', code], cwd=conftest.ROOT,
                          capture_output=True, text=True, check=True)
  assert result.stdout.strip() == 'False'
