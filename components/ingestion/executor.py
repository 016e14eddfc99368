"""FashionMnistExampleGen executor: IDX files -> gzipped TFRecords of tf.Examples."""
import os

import apache_beam as beam
from tfx.dsl.components.base import base_beam_executor
from tfx.types import artifact_utils

from components import example_codec
from components.ingestion import idx
from pipeline import configs

# Images per Beam element: large enough to amortise per-element overhead,
# small enough that a worker holds little.
CHUNK_SIZE = 5000
OUTPUT_PREFIX = 'data_tfrecord'


def to_example(image, label, example_id):
  """One ingested tf.Example: the 784 pixels, the label and a stable id."""
  return example_codec.serialize_example({
      configs.IMAGE_KEY: example_codec.uint8_list_feature(image),
      configs.LABEL_KEY: example_codec.int64_feature(label),
      configs.ID_KEY: example_codec.bytes_feature(example_id.encode()),
  })


class _ChunkToExamples(beam.DoFn):
  """Reads images [start, stop) of a split and emits serialized tf.Examples.

  Each worker reads its own slice of the files, so no image data travels
  through the pipeline graph.
  """

  def __init__(self, data_dir, split):
    self._data_dir = data_dir
    self._split = split
    self._arrays = None

  def setup(self):
    self._arrays = idx.load_split(self._data_dir, self._split)

  def process(self, chunk):
    start, stop = chunk
    images, labels = self._arrays
    for i in range(start, stop):
      yield to_example(images[i], labels[i], idx.example_id(self._split, i))


def split_sizes(data_dir, limits):
  """Validates every file up front; returns {split: number of examples}."""
  sizes = {}
  for split in configs.SPLITS:
    images, _ = idx.load_split(data_dir, split)
    limit = limits[split]
    if limit < 0:
      raise idx.DataError(f'{split}_examples must be >= 0, got {limit}')
    sizes[split] = min(len(images), limit) if limit else len(images)
    if sizes[split] == 0:
      raise idx.DataError(f'{data_dir}: the {split} split holds no images')
  return sizes


class Executor(base_beam_executor.BaseBeamExecutor):

  def Do(self, input_dict, output_dict, exec_properties):
    data_dir = idx.resolve_data_dir(exec_properties.get('data_dir') or None)
    sizes = split_sizes(data_dir, {
        configs.TRAIN_SPLIT: exec_properties.get('train_examples') or 0,
        configs.EVAL_SPLIT: exec_properties.get('eval_examples') or 0,
    })
    examples = artifact_utils.get_single_instance(output_dict['examples'])
    examples.split_names = artifact_utils.encode_split_names(list(configs.SPLITS))
    with self._make_beam_pipeline() as p:
      for split, size in sizes.items():
        chunks = [(s, min(s + CHUNK_SIZE, size)) for s in range(0, size, CHUNK_SIZE)]
        _ = (p
             | f'Chunks[{split}]' >> beam.Create(chunks)
             | f'Reshuffle[{split}]' >> beam.Reshuffle()
             | f'ToExamples[{split}]' >> beam.ParDo(_ChunkToExamples(data_dir, split))
             | f'Write[{split}]' >> beam.io.WriteToTFRecord(
                 os.path.join(artifact_utils.get_split_uri([examples], split),
                              OUTPUT_PREFIX),
                 file_name_suffix='.gz'))
    examples.set_string_custom_property('data_dir', data_dir)
    for split, size in sizes.items():
      examples.set_int_custom_property(f'{split}_examples', size)
