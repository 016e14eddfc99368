"""NoiseAugmenter executor: ingested Examples -> Examples with clean and noisy images."""
import os

import apache_beam as beam
from apache_beam.io import filebasedsink
from apache_beam.io import fileio
from apache_beam.io.filesystem import CompressionTypes
import tensorflow as tf
from tfx.dsl.components.base import base_beam_executor
from tfx.types import artifact_utils

from components import example_codec
from components.noise import noise
from pipeline import configs

OUTPUT_PREFIX = 'data_tfrecord'
# Records per Beam element: Beam's per-element cost is paid once per batch,
# and a batch of ingested images and their float copies is ~7 MB.
BATCH_SIZE = 1024

_INGESTED_FEATURES = {
    configs.IMAGE_KEY: tf.io.FixedLenFeature([configs.IMAGE_PIXELS], tf.int64),
    configs.LABEL_KEY: tf.io.FixedLenFeature([], tf.int64),
    configs.ID_KEY: tf.io.FixedLenFeature([], tf.string),
}


def to_noisy_example(clean, noisy, label, example_id):
  return example_codec.serialize_example({
      configs.CLEAN_KEY: example_codec.float_feature(clean),
      configs.NOISY_KEY: example_codec.float_feature(noisy),
      configs.LABEL_KEY: example_codec.int64_feature(label),
      configs.ID_KEY: example_codec.bytes_feature(example_id),
  })


class ReadRecordBatches(beam.DoFn):
  """A TFRecord file's path -> batches of its serialized records.

  TensorFlow's reader (C++, checks every CRC, reads gs://) hands over whole
  batches; Beam's ReadFromTFRecord pays Beam's per-element cost and a
  crcmod call per record. Gzipped files are not splittable either
  way, so a file is the unit of parallelism in both.
  """

  def __init__(self, batch_size):
    self._batch_size = batch_size

  def process(self, path):
    records = tf.data.TFRecordDataset(path, example_codec.tfrecord_compression([path]))
    try:
      yield from records.batch(self._batch_size).as_numpy_iterator()
    except tf.errors.DataLossError as error:
      raise ValueError(f'{path}: corrupt or truncated TFRecord file ({error.message})') from error


class AddNoiseToBatch(beam.DoFn):
  """A batch of serialized ingested examples -> its noisy examples, TFRecord-framed.

  Parsing, drawing and clipping are vectorised per batch; per example there
  is only the keying of its generator and a byte-level serialization.
  """

  def __init__(self, noise_factor, seed):
    self._noise_factor = noise_factor
    self._seed = seed

  def process(self, serialized_batch):
    parsed = tf.io.parse_example(serialized_batch, _INGESTED_FEATURES)
    ids = parsed[configs.ID_KEY].numpy().tolist()
    clean = noise.to_unit_float(parsed[configs.IMAGE_KEY].numpy())
    noisy = noise.add_noise(clean, noise.draw_noise(self._seed, ids), self._noise_factor)
    labels = parsed[configs.LABEL_KEY].numpy().tolist()
    yield example_codec.frame_tfrecords(
        to_noisy_example(c, n, label, example_id)
        for c, n, label, example_id in zip(clean, noisy, labels, ids))


class _FramedTFRecordSink(filebasedsink.FileBasedSink):
  """Beam's TFRecord sink for elements that are already TFRecord-framed chunks.

  Same temporary files and finalization as beam.io.WriteToTFRecord (which is
  Write(_TFRecordSink)), but one write per batch instead of per record.
  """

  def __init__(self, file_path_prefix):
    super().__init__(file_path_prefix, coder=beam.coders.BytesCoder(),
                     compression_type=CompressionTypes.UNCOMPRESSED)

  def write_encoded_record(self, file_handle, encoded_value):
    file_handle.write(encoded_value)


@beam.ptransform_fn
def AugmentWithNoise(file_patterns, noise_factor, seed, batch_size=BATCH_SIZE):  # pylint: disable=invalid-name
  """Composite transform: TFRecord file patterns of ingested examples ->
  TFRecord-framed chunks of noisy examples."""
  return (file_patterns
          | 'Match' >> fileio.MatchAll()
          | 'Paths' >> beam.Map(lambda metadata: metadata.path)
          | 'Spread' >> beam.Reshuffle()  # files to workers
          | 'Read' >> beam.ParDo(ReadRecordBatches(batch_size))
          | 'AddNoise' >> beam.ParDo(AddNoiseToBatch(noise_factor, seed)))


class Executor(base_beam_executor.BaseBeamExecutor):

  def Do(self, input_dict, output_dict, exec_properties):
    noise_factor = float(exec_properties['noise_factor'])
    seed = int(exec_properties['seed'])
    noise.validate_noise_params(noise_factor, seed)
    source = artifact_utils.get_single_instance(input_dict['examples'])
    augmented = artifact_utils.get_single_instance(output_dict['augmented_examples'])
    splits = artifact_utils.decode_split_names(source.split_names)
    augmented.split_names = artifact_utils.encode_split_names(splits)
    with self._make_beam_pipeline() as p:
      for split in splits:
        pattern = os.path.join(artifact_utils.get_split_uri([source], split), '*')
        _ = (p
             | f'Pattern[{split}]' >> beam.Create([pattern])
             | f'Augment[{split}]' >> AugmentWithNoise(noise_factor, seed)
             # Uncompressed: gzip halves the size of noisy floats but
             # doubled this stage's time (bench/RESULTS.md).
             | f'Write[{split}]' >> beam.io.Write(_FramedTFRecordSink(
                 os.path.join(artifact_utils.get_split_uri([augmented], split),
                              OUTPUT_PREFIX))))
