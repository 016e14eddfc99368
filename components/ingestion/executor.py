"""FashionMnistExampleGen executor: IDX files -> TFRecords of tf.Examples."""
import json
import os

import apache_beam as beam
from tfx.dsl.components.base import base_beam_executor
from tfx.types import artifact_utils

from components import example_codec
from components import features
from components import keys
from components import outputs
from components import tfrecord_io
from components.ingestion import idx
from components.ingestion import spans

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


class _SpanSplitToFramedExamples(beam.DoFn):
  """(span, split) -> that span's split as tf.Examples, TFRecord-framed, CHUNK_SIZE examples per element.

  One reader per file reads it front to back (idx.read_split): parallel
  readers of one gzip file would each decompress all that precedes their
  part. The framed chunks go straight on to the writer, fused with this
  step: a Reshuffle in between would spread serialization over workers but
  make Beam's in-process runner hold the whole split, since it materializes
  a stage's output before a GroupByKey. So memory holds one chunk.
  """

  def __init__(self, span_dirs, sizes):
    self._span_dirs = span_dirs
    self._sizes = sizes

  def process(self, span_and_split):
    span, split = span_and_split
    for start, images, labels in idx.read_split(
        self._span_dirs[span], split, self._sizes[span, split], CHUNK_SIZE):
      yield tfrecord_io.frame_tfrecords(to_examples(
          images.reshape(len(images), -1), labels,
          [idx.example_id(split, start + i, span) for i in range(len(images))]))


def parts_of_splits(span_numbers):
  """{split: [(span, split) read into it]}: train from every span, eval from the latest."""
  return {features.TRAIN_SPLIT: [(span, features.TRAIN_SPLIT) for span in span_numbers],
          features.EVAL_SPLIT: [(span_numbers[-1], features.EVAL_SPLIT)]}


def part_sizes(span_dirs, parts, limits):
  """Validates every file read, streaming; returns {(span, split): number of examples}.

  limits: {split: use the first N images of each span's file; 0 = all}.
  """
  sizes = {}
  for span, split in parts:
    available = idx.validate_split(span_dirs[span], split)
    limit = limits[split]
    if limit < 0:
      raise idx.DataError(f'{split}_examples must be >= 0, got {limit}')
    sizes[span, split] = min(available, limit) if limit else available
    if sizes[span, split] == 0:
      raise idx.DataError(f'{span_dirs[span]}: the {split} split holds no images')
  return sizes


class Executor(base_beam_executor.BaseBeamExecutor):
  """Validates the IDX files of the spans, then writes each split in Beam."""

  def Do(self, input_dict, output_dict, exec_properties):
    """Writes splits `train` and `eval` of ingested tf.Examples.

    Args:
      input_dict: none.
      output_dict: `examples`: the Examples artifact; it records the data
        directory, TFX's `span` (the latest) and `input_fingerprint`, the
        `span_numbers` trained on and each split's number of examples.
      exec_properties: `input_spans` (DataSpans' JSON: `data_dir`,
        `span_numbers`, `input_fingerprint`), `train_examples` and
        `eval_examples` (use the first N images of each span; 0 = all);
        `code_fingerprint` (only a cache key).
    """
    input_spans = json.loads(exec_properties[keys.INPUT_SPANS_KEY])
    data_dir = input_spans[keys.DATA_DIR_KEY]
    span_numbers = input_spans[keys.SPAN_NUMBERS_PROPERTY]
    span_dirs = {span: spans.span_dir(data_dir, span) for span in span_numbers}
    parts = parts_of_splits(span_numbers)
    sizes = part_sizes(span_dirs, [part for split in parts.values() for part in split], {
        features.TRAIN_SPLIT: exec_properties.get(keys.TRAIN_EXAMPLES_KEY) or 0,
        features.EVAL_SPLIT: exec_properties.get(keys.EVAL_EXAMPLES_KEY) or 0,
    })
    examples = artifact_utils.get_single_instance(output_dict[keys.EXAMPLES_KEY])
    examples.split_names = artifact_utils.encode_split_names(list(features.SPLITS))
    for split in features.SPLITS:
      outputs.empty_output_dir(artifact_utils.get_split_uri([examples], split))
    with self._make_beam_pipeline() as p:
      for split, split_parts in parts.items():
        _ = (p
             | f'Parts[{split}]' >> beam.Create(split_parts)
             | f'ToExamples[{split}]' >> beam.ParDo(_SpanSplitToFramedExamples(span_dirs, sizes))
             | f'Write[{split}]' >> tfrecord_io.WriteFramedTFRecords(
                 os.path.join(artifact_utils.get_split_uri([examples], split),
                              OUTPUT_PREFIX)))
    examples.span = span_numbers[-1]
    examples.set_string_custom_property(keys.INPUT_FINGERPRINT_PROPERTY,
                                        input_spans[keys.INPUT_FINGERPRINT_PROPERTY])
    examples.set_string_custom_property(keys.SPAN_NUMBERS_PROPERTY,
                                        spans.span_numbers_text(span_numbers))
    examples.set_string_custom_property(keys.DATA_DIR_KEY, data_dir)
    for split in features.SPLITS:
      examples.set_int_custom_property(
          keys.split_size_property(split),
          sum(size for (_, part_split), size in sizes.items() if part_split == split))
