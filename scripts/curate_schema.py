"""Writes components/schema/schema.pbtxt: the schema inferred from Fashion-MNIST, then reviewed.

  .venv/bin/python scripts/curate_schema.py [--data_dir=/usr/share/datasets/fashion-mnist]

TFDV infers a schema from the statistics of the real training split, as
ingestion writes it; the review below is applied to it and checked against
the same statistics, so regenerating gives the reviewed file again (and
fails, naming the rule, if the data no longer agrees with it):

- `image`: 784 values (28x28), each an integer 0..255 (uint8 pixels);
- `label`: one value, the class 0..9, categorical, so that StatisticsGen
  counts each class (the label drift gate compares those counts);
- `example_id`: one value.

Every feature is in every example (presence 1.0), as inferred.
"""
import argparse
import os
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from google.protobuf import text_format  # pylint: disable=g-import-not-at-top
import tensorflow_data_validation as tfdv

from components import features
from components import schema as schema_lib
from components.ingestion import data_sources
from components.ingestion import executor as ingestion_executor
from components.ingestion import idx
from components import tfrecord_io

HEADER = ('# The curated schema of the ingested examples: written by scripts/curate_schema.py\n'
          '# from the statistics of Fashion-MNIST\'s training split, then reviewed (see the\n'
          '# script). Data validation checks each run\'s data against it.\n')


def _statistics(data_dir, work_dir):
  """TFDV statistics of the training split, written as ingestion writes it."""
  images, labels = idx.load_split(data_dir, features.TRAIN_SPLIT)
  path = os.path.join(work_dir, 'train.tfrecord')
  with open(path, 'wb') as f:
    f.write(tfrecord_io.frame_tfrecords(ingestion_executor.to_examples(
        images.reshape(len(images), -1), labels,
        [idx.example_id(features.TRAIN_SPLIT, i) for i in range(len(images))])))
  return tfdv.generate_statistics_from_tfrecord(path)


def _feature(schema, name):
  [feature] = [f for f in schema.feature if f.name == name]
  return feature


def _review(schema, statistics):
  """The reviewed rules, each checked against the statistics it is set from."""
  stats = {f.path.step[0]: f for f in statistics.datasets[0].features}
  image, label = stats[features.IMAGE_KEY], stats[features.LABEL_KEY]
  assert 0 <= image.num_stats.min and image.num_stats.max <= 255, image.num_stats
  assert (label.num_stats.min, label.num_stats.max) == (0, features.NUM_CLASSES - 1)
  for name, count in ((features.IMAGE_KEY, features.IMAGE_PIXELS), (features.LABEL_KEY, 1),
                      (features.ID_KEY, 1)):
    feature = _feature(schema, name)
    assert [d.size for d in feature.shape.dim] == [count], (name, feature.shape)
    assert feature.presence.min_fraction == 1.0, name
  image_domain = _feature(schema, features.IMAGE_KEY).int_domain
  image_domain.min, image_domain.max = 0, 255
  label_domain = _feature(schema, features.LABEL_KEY).int_domain
  label_domain.min, label_domain.max = 0, features.NUM_CLASSES - 1
  label_domain.is_categorical = True
  return schema


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--data_dir', default=data_sources.DEBIAN_DATA_DIR)
  args = parser.parse_args()
  with tempfile.TemporaryDirectory() as work_dir:
    statistics = _statistics(idx.resolve_data_dir(args.data_dir), work_dir)
  schema = _review(tfdv.infer_schema(statistics), statistics)
  with open(schema_lib.SCHEMA_FILE, 'w') as f:
    f.write(HEADER + text_format.MessageToString(schema))
  print(f'wrote {schema_lib.SCHEMA_FILE}')


if __name__ == '__main__':
  main()
