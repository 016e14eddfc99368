"""TFRecord framing: what frame_tfrecords writes, TensorFlow's reader reads and checks."""
import pytest
import tensorflow as tf

from components import tfrecord_io


def test_framed_records_read_back_and_their_checksums_are_checked(tmp_path):
  records = [b'', b'x', bytes(range(256)) * 30]
  path = str(tmp_path / 'records.tfrecord')
  with open(path, 'wb') as f:
    f.write(tfrecord_io.frame_tfrecords(records))
  assert [r.numpy() for r in tf.data.TFRecordDataset(path)] == records
  corrupt = bytearray(open(path, 'rb').read())
  corrupt[-100] ^= 1  # a bit inside the last record's data
  with open(path, 'wb') as f:
    f.write(corrupt)
  with pytest.raises(tf.errors.DataLossError, match='corrupted record'):
    list(tf.data.TFRecordDataset(path))
