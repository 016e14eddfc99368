"""FashionMnistExampleGen executor: IDX files -> TFRecords of tf.Examples."""
import os

import apache_beam as beam
from tfx.dsl.components.base import base_beam_executor
from tfx.types import artifact_utils

from components import example_codec
from components import features
from components import keys
from components import tfrecord_io
from components.ingestion import idx

# Images per Beam element: large enough to amortise per-element overhead,
# small enough that a worker holds little (5,000: 3.9 MB of pixels).
CHUNK_SIZE = 5000
OUTPUT_PREFIX = 'data_tfrecord'


def to_examples(images, labels, example_ids):
  """Ingested tf.Examples, one per image: its 784 pixels, its label and a stable id."""
  for image, label, example_id in zip(example_codec.uint8_list_features(images), labels,
                                      example_ids):
    yield example_codec.serialize_example({
        features.IMAGE_KEY: image,
        features.LABEL_KEY: example_codec.int64_feature(label),
        features.ID_KEY: example_codec.bytes_feature(example_id.encode()),
    })


class _SplitToFramedExamples(beam.DoFn):
  """A split's name -> its tf.Examples, TFRecord-framed, CHUNK_SIZE examples per element.

  One reader per split reads its two files front to back (idx.read_split):
  parallel readers of one gzip file would each decompress all that precedes
  their part. The framed chunks go straight on to the writer, fused with
  this step: a Reshuffle in between would spread serialization over workers
  but make Beam's in-process runner hold the whole split, since it
  materializes a stage's output before a GroupByKey. So memory holds one chunk.
  """

  def __init__(self, data_dir, sizes):
    self._data_dir = data_dir
    self._sizes = sizes

  def process(self, split):
    for start, images, labels in idx.read_split(
        self._data_dir, split, self._sizes[split], CHUNK_SIZE):
      yield tfrecord_io.frame_tfrecords(to_examples(
          images.reshape(len(images), -1), labels,
          [idx.example_id(split, start + i) for i in range(len(images))]))


def split_sizes(data_dir, limits):
  """Validates every file up front, streaming; returns {split: number of examples}."""
  sizes = {}
  for split in features.SPLITS:
    available = idx.validate_split(data_dir, split)
    limit = limits[split]
    if limit < 0:
      raise idx.DataError(f'{split}_examples must be >= 0, got {limit}')
    sizes[split] = min(available, limit) if limit else available
    if sizes[split] == 0:
      raise idx.DataError(f'{data_dir}: the {split} split holds no images')
  return sizes


class Executor(base_beam_executor.BaseBeamExecutor):
  """Validates the IDX files, then writes each split in Beam."""

  def Do(self, input_dict, output_dict, exec_properties):
    """Writes splits `train` and `eval` of ingested tf.Examples.

    Args:
      input_dict: none.
      output_dict: `examples`: the Examples artifact; it records the data
        directory used and each split's number of examples as properties.
      exec_properties: `data_dir` (empty: resolved here, see idx.resolve_data_dir),
        `train_examples` and `eval_examples` (use the first N images; 0 = all).
    """
    data_dir = idx.resolve_data_dir(exec_properties.get(keys.DATA_DIR_KEY) or None)
    sizes = split_sizes(data_dir, {
        features.TRAIN_SPLIT: exec_properties.get(keys.TRAIN_EXAMPLES_KEY) or 0,
        features.EVAL_SPLIT: exec_properties.get(keys.EVAL_EXAMPLES_KEY) or 0,
    })
    examples = artifact_utils.get_single_instance(output_dict[keys.EXAMPLES_KEY])
    examples.split_names = artifact_utils.encode_split_names(list(features.SPLITS))
    with self._make_beam_pipeline() as p:
      for split in sizes:
        _ = (p
             | f'Split[{split}]' >> beam.Create([split])
             | f'ToExamples[{split}]' >> beam.ParDo(_SplitToFramedExamples(data_dir, sizes))
             | f'Write[{split}]' >> tfrecord_io.WriteFramedTFRecords(
                 os.path.join(artifact_utils.get_split_uri([examples], split),
                              OUTPUT_PREFIX)))
    examples.set_string_custom_property(keys.DATA_DIR_KEY, data_dir)
    for split, size in sizes.items():
      examples.set_int_custom_property(keys.split_size_property(split), size)
