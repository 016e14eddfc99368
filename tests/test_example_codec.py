"""The hand-written tf.Example encoder must parse exactly as TensorFlow's."""
import numpy as np
import pytest
import tensorflow as tf

from components import example_codec


def test_encodings_parse_back_identically():
  rng = np.random.default_rng(0)
  pixels = np.concatenate([[0, 1, 127, 128, 129, 254, 255],
                           rng.integers(0, 256, 777)]).astype(np.uint8)
  floats = rng.random(784).astype(np.float32)
  serialized = example_codec.serialize_example({
      'image': example_codec.uint8_list_features(pixels.reshape(1, -1))[0],
      'clean': example_codec.float_feature(floats),
      'label': example_codec.int64_feature(300),  # a two-byte varint
      'id': example_codec.bytes_feature(b'train-59999'),
  })
  parsed = tf.io.parse_single_example(serialized, {
      'image': tf.io.FixedLenFeature([784], tf.int64),
      'clean': tf.io.FixedLenFeature([784], tf.float32),
      'label': tf.io.FixedLenFeature([], tf.int64),
      'id': tf.io.FixedLenFeature([], tf.string)})
  np.testing.assert_array_equal(parsed['image'].numpy(), pixels)
  np.testing.assert_array_equal(parsed['clean'].numpy(), floats)
  assert parsed['label'].numpy() == 300
  assert parsed['id'].numpy() == b'train-59999'
  # And the proto library reads the same message.
  example = tf.train.Example.FromString(serialized)
  assert list(example.features.feature['image'].int64_list.value) == pixels.tolist()


def test_rows_encoded_together_parse_back_row_by_row():
  # Rows of different encoded lengths: one byte per value, two per value >= 128.
  rows = np.stack([np.zeros(784), np.full(784, 255), np.arange(784) % 256]).astype(np.uint8)
  for row, feature in zip(rows, example_codec.uint8_list_features(rows)):
    parsed = tf.io.parse_single_example(
        example_codec.serialize_example({'image': feature}),
        {'image': tf.io.FixedLenFeature([784], tf.int64)})
    np.testing.assert_array_equal(parsed['image'].numpy(), row)


def test_negative_int64_is_refused():
  with pytest.raises(ValueError, match='non-negative'):
    example_codec.int64_feature(-1)

