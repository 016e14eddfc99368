"""NoiseAugmenter executor: ingested Examples -> Examples with clean and noisy images."""
import os

import apache_beam as beam
from apache_beam.io import fileio
import tensorflow as tf
from tfx.dsl.components.base import base_beam_executor
from tfx.types import artifact_utils

from components import example_codec
from components import features
from components import keys
from components import outputs
from components import tfrecord_io
from components.noise import noise

OUTPUT_PREFIX = 'data_tfrecord'
# Records per Beam element: Beam's per-element cost is paid once per batch,
# and a batch of ingested images and their float copies is ~7 MB.
BATCH_SIZE = 1024


def to_noisy_example(clean, noisy, label, example_id):
  return example_codec.serialize_example({
      features.CLEAN_KEY: example_codec.float_feature(clean),
      features.NOISY_KEY: example_codec.float_feature(noisy),
      features.LABEL_KEY: example_codec.int64_feature(label),
      features.ID_KEY: example_codec.bytes_feature(example_id),
  })


class AddNoiseToBatch(beam.DoFn):
  """A batch of serialized ingested examples -> its noisy examples, TFRecord-framed.

  Parsing, drawing and clipping are vectorised per batch; per example there
  is only the keying of its generator and a byte-level serialization.
  """

  def __init__(self, noise_factor, seed):
    self._noise_factor = noise_factor
    self._seed = seed

  def process(self, serialized_batch):
    parsed = tf.io.parse_example(serialized_batch, features.ingested_feature_spec())
    ids = parsed[features.ID_KEY].numpy().tolist()
    clean = noise.to_unit_float(parsed[features.IMAGE_KEY].numpy())
    noisy = noise.add_noise(clean, noise.draw_noise(self._seed, ids), self._noise_factor)
    labels = parsed[features.LABEL_KEY].numpy().tolist()
    yield tfrecord_io.frame_tfrecords(
        to_noisy_example(c, n, label, example_id)
        for c, n, label, example_id in zip(clean, noisy, labels, ids))


@beam.ptransform_fn
def AugmentWithNoise(file_patterns, noise_factor, seed, batch_size=BATCH_SIZE):  # pylint: disable=invalid-name
  """Composite transform: TFRecord file patterns of ingested examples ->
  TFRecord-framed chunks of noisy examples."""
  return (file_patterns
          | 'Match' >> fileio.MatchAll()
          | 'Paths' >> beam.Map(lambda metadata: metadata.path)
          | 'Spread' >> beam.Reshuffle()  # files to workers
          | 'Read' >> beam.ParDo(tfrecord_io.ReadRecordBatches(batch_size))
          | 'AddNoise' >> beam.ParDo(AddNoiseToBatch(noise_factor, seed)))


class Executor(base_beam_executor.BaseBeamExecutor):
  """Adds noise to every split, in Beam."""

  def Do(self, input_dict, output_dict, exec_properties):
    """Writes each split of `examples` with clean and noisy images.

    Args:
      input_dict: `examples`: ingested Examples (image, label, example_id).
      output_dict: `augmented_examples`: Examples with clean, noisy, label and
        example_id, uncompressed; it records `noise_factor` and `seed` as
        properties, for the report and anyone reading it later, and copies
        `span`, `span_numbers` and `input_fingerprint` from `examples`.
      exec_properties: `noise_factor` (standard deviation of the noise) and
        `seed` (with the example id, it keys each example's noise);
        `code_fingerprint` (only a cache key).
    """
    noise_factor = float(exec_properties[keys.NOISE_FACTOR_KEY])
    seed = int(exec_properties[keys.SEED_KEY])
    noise.validate_noise_params(noise_factor, seed)
    source = artifact_utils.get_single_instance(input_dict[keys.EXAMPLES_KEY])
    augmented = artifact_utils.get_single_instance(output_dict[keys.AUGMENTED_EXAMPLES_KEY])
    splits = artifact_utils.decode_split_names(source.split_names)
    augmented.split_names = artifact_utils.encode_split_names(splits)
    for split in splits:
      outputs.empty_output_dir(artifact_utils.get_split_uri([augmented], split))
    with self._make_beam_pipeline() as p:
      for split in splits:
        pattern = os.path.join(artifact_utils.get_split_uri([source], split), '*')
        _ = (p
             | f'Pattern[{split}]' >> beam.Create([pattern])
             | f'Augment[{split}]' >> AugmentWithNoise(noise_factor, seed)
             # Uncompressed: gzip halves the size of noisy floats but
             # doubled this stage's time (bench/RESULTS.md).
             | f'Write[{split}]' >> tfrecord_io.WriteFramedTFRecords(
                 os.path.join(artifact_utils.get_split_uri([augmented], split),
                              OUTPUT_PREFIX)))
    augmented.set_float_custom_property(keys.NOISE_FACTOR_KEY, noise_factor)
    augmented.set_int_custom_property(keys.SEED_KEY, seed)
    # What the examples are of, for the pusher's record of what a model learnt.
    augmented.span = source.span
    for key in (keys.SPAN_NUMBERS_PROPERTY, keys.INPUT_FINGERPRINT_PROPERTY):
      augmented.set_string_custom_property(key, source.get_string_custom_property(key))
