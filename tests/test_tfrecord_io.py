"""TFRecord framing: what frame_tfrecords writes, TensorFlow's reader reads and checks."""
import gzip

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


def test_records_are_counted_in_plain_and_gzipped_files_and_a_cut_file_is_named(tmp_path):
  records = [b'', b'x', bytes(range(256)) * 30]
  framed = tfrecord_io.frame_tfrecords(records)
  plain = [str(tmp_path / f'data-{i}') for i in range(2)]
  for path in plain:
    with open(path, 'wb') as f:
      f.write(framed)
  assert tfrecord_io.count_records(plain) == 6
  with open(tmp_path / 'data.gz', 'wb') as f:
    f.write(gzip.compress(framed))
  assert tfrecord_io.count_records([str(tmp_path / 'data.gz')]) == 3
  for cut in (len(framed) - 1, len(framed) - 4 - 7680 - 5):  # inside the last record, its header
    with open(plain[1], 'wb') as f:
      f.write(framed[:cut])
    with pytest.raises(ValueError, match=r'data-1: truncated TFRecord file \(record 3 is cut short\)'):
      tfrecord_io.count_records(plain)


def test_record_files_are_the_matches_without_beams_temporary_directories(tmp_path):
  split = tmp_path / 'Split-train'
  (split / 'beam-temp-data_tfrecord-0a1b').mkdir(parents=True)
  (split / 'beam-temp-data_tfrecord-0a1b' / 'x.data_tfrecord').write_bytes(b'half a record')
  for name in ('data_tfrecord-00001-of-00002', 'data_tfrecord-00000-of-00002'):
    (split / name).write_bytes(tfrecord_io.frame_tfrecords([b'r']))
  assert tfrecord_io.record_files([str(split / '*')]) == [
      str(split / 'data_tfrecord-00000-of-00002'), str(split / 'data_tfrecord-00001-of-00002')]
  with pytest.raises(ValueError, match='no TFRecord files match'):
    tfrecord_io.record_files([str(tmp_path / 'Split-eval' / '*')])
