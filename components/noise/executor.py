"""NoiseAugmenter executor: ingested Examples -> Examples with clean and noisy images."""
import os

import apache_beam as beam
import tensorflow as tf
from tfx.dsl.components.base import base_beam_executor
from tfx.types import artifact_utils

from components import example_codec
from components.noise import noise
from pipeline import configs

OUTPUT_PREFIX = 'data_tfrecord'

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


class AddNoiseToBatch(beam.DoFn):
  """Parses a batch of ingested examples and emits them with noise added.

  Parsing and drawing are vectorised per batch; per example there is only
  the seeding of its generator and a byte-level serialization.
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
    for c, n, label, example_id in zip(clean, noisy, labels, ids):
      yield to_noisy_example(c, n, label, example_id)


@beam.ptransform_fn
def AugmentWithNoise(serialized_examples, noise_factor, seed):  # pylint: disable=invalid-name
  """Composite transform: serialized ingested examples -> serialized noisy ones."""
  return (serialized_examples
          | 'Batch' >> beam.BatchElements(min_batch_size=256, max_batch_size=2048)
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
             | f'Read[{split}]' >> beam.io.ReadFromTFRecord(pattern)
             | f'Augment[{split}]' >> AugmentWithNoise(noise_factor, seed)
             | f'Write[{split}]' >> beam.io.WriteToTFRecord(
                 os.path.join(artifact_utils.get_split_uri([augmented], split),
                              OUTPUT_PREFIX),
                 # Uncompressed: gzip halves the size of noisy floats but
                 # doubled this stage's time (bench/RESULTS.md).
                 file_name_suffix=''))
