"""The distances the drift and skew gates measure, on the real data: what their thresholds stand on.

  python -m bench.drift_thresholds [--seed 42] [--sizes 12000,1000,200] [--fault_sizes 12000,1000]
                                  [--draws 2000]

Statistics as StatisticsGen computes them (TFDV, with the curated schema: the
label is categorical, so its classes are counted), of ingested tf.Examples
(ExampleGen's to_examples). Distances as the DistributionValidator computes
them: the schema it builds from drift.distribution_config() and the baseline's
statistics, then tfdv.validate_statistics(test, schema,
previous_statistics=baseline); each measured value is read from the
anomalies' drift_skew_info, whether or not it crosses the threshold. Each pair
is measured a second time the prototype's way (the curated schema, its
comparators at threshold 0), and the two must agree.

- Clean: five disjoint subsets of the 60,000 training images at each size
  (a seeded permutation cut into consecutive runs), all 10 pairs.
- Skew: the 10,000 t10k images against all 60,000 training images and
  against each 12,000 subset; and what the small runs validate (the pipeline
  takes the first N images of each split): the first 1,000 t10k images
  against the first 5,000 training images (docs/running_locally.md's quick
  run), the first 200 against the first 1,000 (tests/test_kfp_execution.py,
  bench.kfp_package).
- Faults, at each fault size: clean subset 1 altered, against clean subset 0
  (as new data against the deployed model's): inverted (255 - x), dimmed to a
  third (x // 3), one class only (every label 0), and for context one class
  missing (class 0's images dropped), half brightness (x // 2). At 12,000, to
  see where the thresholds bite: brightness x * 0.9 and x * 0.8 (floored),
  half of class 0's images dropped.
- Label false alarms, by sampling (numpy, --draws random draws per row): the
  label distance is the largest difference between the class frequencies
  (checked against TFDV's value on every clean pair above), so its spread
  between clean samples of each size, and how often it crosses the threshold,
  can be counted over many more pairs than TFDV measures: two disjoint random
  subsets of the training images at each size; random eval against random
  training images at the small runs' sizes. Also the share over a tighter
  0.03, for comparison.
- Margin per comparator and size: threshold / max clean distance, and the
  smallest distance of the faults it must catch (label: one class only; image:
  inverted, dimmed) / threshold.
"""
import argparse
import os
import statistics
import tempfile
import time

from bench import common

NUM_SUBSETS = 5
# (eval, train) images of the small runs: the first N of each split.
SMALL_RUNS = [(1000, 5000), (200, 1000)]
LABEL, IMAGE = 'label', 'image'
# The faults each comparator must catch; the other faults are context.
MUST_CATCH = {LABEL: ['one class only (every label 0)'],
              IMAGE: ['inverted (255 - x)', 'dimmed (x // 3)']}
# A tighter label threshold, for comparison: it would catch half of a class
# missing at 12,000 images (0.04).
TIGHTER_LABEL_THRESHOLD = 0.03


def _faults(images, labels, rng, sensitivity):
  """{name: (images, labels)} of faulty data made from clean images, labels."""
  faults = {
      'inverted (255 - x)': (255 - images, labels),
      'dimmed (x // 3)': (images // 3, labels),
      'one class only (every label 0)': (images, labels * 0),
      'one class missing (class 0 dropped)': (images[labels != 0], labels[labels != 0]),
      'half brightness (x // 2)': (images // 2, labels),
  }
  if sensitivity:
    import numpy as np  # pylint: disable=g-import-not-at-top
    wide = images.astype(np.uint16)
    faults['brightness x 0.9'] = ((wide * 9 // 10).astype(np.uint8), labels)
    faults['brightness x 0.8'] = ((wide * 8 // 10).astype(np.uint8), labels)
    class0 = np.flatnonzero(labels == 0)
    keep = np.setdiff1d(np.arange(len(labels)), rng.permutation(class0)[:len(class0) // 2])
    faults['half of class 0 dropped'] = (images[keep], labels[keep])
  return faults


class Measure:
  """Statistics of image sets and distances between them, as the pipeline computes them."""

  def __init__(self, work):
    import tensorflow_data_validation as tfdv  # pylint: disable=g-import-not-at-top
    from google.protobuf import text_format  # pylint: disable=g-import-not-at-top
    from tensorflow_metadata.proto.v0 import anomalies_pb2  # pylint: disable=g-import-not-at-top
    from tensorflow_metadata.proto.v0 import schema_pb2  # pylint: disable=g-import-not-at-top
    from components import schema as schema_lib  # pylint: disable=g-import-not-at-top
    from components.validation import drift  # pylint: disable=g-import-not-at-top
    self._tfdv = tfdv
    self._work = work
    self._count = 0
    with open(schema_lib.SCHEMA_FILE) as f:
      self.schema = text_format.Parse(f.read(), schema_pb2.Schema())
    self._config = drift.distribution_config()
    self._types = {LABEL: anomalies_pb2.DriftSkewInfo.Measurement.L_INFTY,
                   IMAGE: anomalies_pb2.DriftSkewInfo.Measurement.JENSEN_SHANNON_DIVERGENCE}
    self.thresholds = {LABEL: drift.LABEL_L_INFINITY_THRESHOLD, IMAGE: drift.PIXEL_JSD_THRESHOLD}
    # The prototype's schema: the curated one, both comparators at threshold 0.
    self._zero = schema_pb2.Schema()
    self._zero.CopyFrom(self.schema)
    for feature in self._zero.feature:
      if feature.name == LABEL:
        feature.drift_comparator.infinity_norm.threshold = 0.0
      if feature.name == IMAGE:
        feature.drift_comparator.jensen_shannon_divergence.threshold = 0.0
    self.stats_s = 0.0

  def stats(self, images, labels):
    """StatisticsGen's statistics of ingested examples of images, labels."""
    from components import tfrecord_io  # pylint: disable=g-import-not-at-top
    from components.ingestion import executor as ingestion  # pylint: disable=g-import-not-at-top
    self._count += 1
    path = os.path.join(self._work, f'set-{self._count}.tfrecord')
    ids = [f'set-{self._count}-{i}' for i in range(len(images))]
    with open(path, 'wb') as f:
      f.write(tfrecord_io.frame_tfrecords(
          ingestion.to_examples(images.reshape(len(images), -1), labels, ids)))
    start = time.monotonic()
    result = self._tfdv.generate_statistics_from_tfrecord(
        path, stats_options=self._tfdv.StatsOptions(schema=self.schema))
    self.stats_s += time.monotonic() - start
    os.remove(path)
    return result

  def _measured(self, anomalies):
    values = {(info.path.step[0], m.type): m.value
              for info in anomalies.drift_skew_info for m in info.drift_measurements}
    return {name: values[name, kind] for name, kind in self._types.items()}

  def distances(self, test, baseline):
    """{'label': L-infinity, 'image': JSD} of test against baseline, as the DistributionValidator measures."""
    from tfx.components.distribution_validator import executor as dv  # pylint: disable=g-import-not-at-top
    schema = dv._make_schema_from_config(self._config, baseline)  # pylint: disable=protected-access
    ours = self._measured(self._tfdv.validate_statistics(test, schema,
                                                         previous_statistics=baseline))
    prototype = self._measured(self._tfdv.validate_statistics(test, self._zero,
                                                              previous_statistics=baseline))
    for name in ours:
      if abs(ours[name] - prototype[name]) > 1e-12 * max(1.0, abs(ours[name])):
        raise AssertionError(f'{name}: the validator measured {ours[name]}, '
                             f'the prototype {prototype[name]}')
    return ours


def label_distance(labels_a, labels_b):
  """L-infinity distance between the class frequencies of two label arrays."""
  import numpy as np  # pylint: disable=g-import-not-at-top
  freq = lambda labels: np.bincount(labels, minlength=10) / len(labels)
  return float(np.max(np.abs(freq(labels_a) - freq(labels_b))))


def _fires(measure, dist):
  """'label, image': the gates these distances would fail, or '-'."""
  names = [n for n in (LABEL, IMAGE) if dist[n] > measure.thresholds[n]]
  return ', '.join(names) or '-'


def main():
  parser = argparse.ArgumentParser()
  parser.add_argument('--seed', type=int, default=42, help='permutation of the training images')
  parser.add_argument('--sizes', default='12000,1000,200', help='clean subset sizes')
  parser.add_argument('--fault_sizes', default='12000,1000', help='sizes the faults are measured at')
  parser.add_argument('--draws', type=int, default=2000, help='pairs per row of the label sampling')
  args = parser.parse_args()
  sizes = [int(s) for s in args.sizes.split(',')]
  fault_sizes = [int(s) for s in args.fault_sizes.split(',')]

  import numpy as np  # pylint: disable=g-import-not-at-top
  from components.ingestion import idx  # pylint: disable=g-import-not-at-top
  common.header('Data validation: drift and skew distances on the real data, and the thresholds')
  start = time.monotonic()
  data_dir = idx.resolve_data_dir()
  train_images, train_labels = idx.load_split(data_dir, 'train')
  eval_images, eval_labels = idx.load_split(data_dir, 'eval')
  rng = np.random.default_rng(args.seed)
  order = rng.permutation(len(train_images))
  for size in sizes + fault_sizes:
    if size * NUM_SUBSETS > len(order):
      raise ValueError(f'{NUM_SUBSETS} disjoint subsets of {size} need more than '
                       f'{len(order)} training images')

  with tempfile.TemporaryDirectory() as work:
    measure = Measure(work)
    print(f'data: {data_dir}; thresholds: label L-infinity {measure.thresholds[LABEL]}, '
          f'image JSD {measure.thresholds[IMAGE]}; seed {args.seed}\n', flush=True)
    subsets, clean = {}, {}
    for size in sorted(set(sizes + fault_sizes), reverse=True):
      subsets[size] = [measure.stats(train_images[order[k * size:(k + 1) * size]],
                                     train_labels[order[k * size:(k + 1) * size]])
                       for k in range(NUM_SUBSETS)]
    subset_labels = lambda size, k: train_labels[order[k * size:(k + 1) * size]]
    for size in sizes:
      clean[size] = []
      for i in range(NUM_SUBSETS):
        for j in range(i + 1, NUM_SUBSETS):
          dist = measure.distances(subsets[size][i], subsets[size][j])
          counted = label_distance(subset_labels(size, i), subset_labels(size, j))
          if abs(dist[LABEL] - counted) > 1e-9:
            raise AssertionError(f'label distance: TFDV {dist[LABEL]}, counted {counted}')
          clean[size].append(dist)

    print('### Clean: disjoint subsets of the training images, all pairs\n')
    rows = []
    for size in sizes:
      label = [d[LABEL] for d in clean[size]]
      image = [d[IMAGE] for d in clean[size]]
      over = lambda values, name: sum(v > measure.thresholds[name] for v in values)
      rows.append([f'{size:,}', len(label), max(label), statistics.median(label),
                   f'{over(label, LABEL)}/{len(label)}', max(image), statistics.median(image),
                   f'{over(image, IMAGE)}/{len(image)}'])
    common.table(['images per subset', 'pairs', 'label L-inf max', 'label L-inf median',
                  'label gate fires', 'image JSD max', 'image JSD median', 'image gate fires'],
                 rows)

    print('\n### Skew: t10k (eval) against training images\n')
    eval_stats = measure.stats(eval_images, eval_labels)
    rows = []
    dist = measure.distances(eval_stats, measure.stats(train_images, train_labels))
    rows.append(['t10k (10,000) vs all training images (60,000)', dist[LABEL], dist[IMAGE],
                 _fires(measure, dist)])
    if 12000 in subsets:
      per_subset = [measure.distances(eval_stats, s) for s in subsets[12000]]
      for k, dist in enumerate(per_subset):
        rows.append([f't10k vs 12,000 subset {k}', dist[LABEL], dist[IMAGE],
                     _fires(measure, dist)])
    for n_eval, n_train in SMALL_RUNS:
      dist = measure.distances(
          measure.stats(eval_images[:n_eval], eval_labels[:n_eval]),
          measure.stats(train_images[:n_train], train_labels[:n_train]))
      rows.append([f'first {n_eval:,} t10k vs first {n_train:,} training images', dist[LABEL],
                   dist[IMAGE], _fires(measure, dist)])
    common.table(['eval vs train', 'label L-inf', 'image JSD', 'gates that fire'], rows)

    print('\n### Faults: altered subset 1 against clean subset 0\n')
    faults, rows = {}, []
    for size in fault_sizes:
      base, source = subsets[size][0], order[size:2 * size]
      clean_pair = measure.distances(subsets[size][1], base)
      rows.append([f'{size:,}', 'none (clean subset 1)', size, clean_pair[LABEL],
                   clean_pair[IMAGE], _fires(measure, clean_pair)])
      altered = _faults(train_images[source], train_labels[source], rng,
                        sensitivity=size == max(fault_sizes))
      for name, (images, labels) in altered.items():
        dist = measure.distances(measure.stats(images, labels), base)
        faults[size, name] = dist
        rows.append([f'{size:,}', name, len(images), dist[LABEL], dist[IMAGE],
                     _fires(measure, dist)])
    common.table(['size', 'fault', 'images', 'label L-inf', 'image JSD', 'gates that fire'], rows)

    print(f'\n### Label distance between clean samples: {args.draws} random draws a row\n')
    threshold, rows = measure.thresholds[LABEL], []
    def sampled(name, draw):
      values = np.array([draw() for _ in range(args.draws)])
      rows.append([name, float(np.median(values)), float(np.percentile(values, 99)),
                   float(values.max()), f'{100 * np.mean(values > threshold):.2f}%',
                   f'{100 * np.mean(values > TIGHTER_LABEL_THRESHOLD):.2f}%'])
    for size in sizes:
      def disjoint(size=size):
        picked = rng.choice(len(train_labels), 2 * size, replace=False)
        return label_distance(train_labels[picked[:size]], train_labels[picked[size:]])
      sampled(f'train {size:,} vs train {size:,} (disjoint)', disjoint)
    for n_eval, n_train in SMALL_RUNS:
      sampled(f'eval {n_eval:,} vs train {n_train:,}', lambda n_eval=n_eval, n_train=n_train:
              label_distance(eval_labels[rng.choice(len(eval_labels), n_eval, replace=False)],
                             train_labels[rng.choice(len(train_labels), n_train, replace=False)]))
    common.table(['samples', 'median', '99th percentile', 'max', f'share > {threshold}',
                  f'share > {TIGHTER_LABEL_THRESHOLD}'], rows)

    print('\n### Margin\n')
    rows = []
    for name in (LABEL, IMAGE):
      threshold = measure.thresholds[name]
      for size in fault_sizes:
        if size not in clean:
          continue
        worst_clean = max(d[name] for d in clean[size])
        caught = {f: faults[size, f][name] for f in MUST_CATCH[name]}
        weakest = min(caught, key=caught.get)
        rows.append([f'{name} ({"L-inf" if name == LABEL else "JSD"})', threshold, f'{size:,}',
                     worst_clean, f'{threshold / worst_clean:.1f}x',
                     f'{caught[weakest]:.4g} ({weakest})', f'{caught[weakest] / threshold:.1f}x'])
    common.table(['comparator', 'threshold', 'size', 'max clean', 'threshold / max clean',
                  'min must-catch fault', 'min fault / threshold'], rows)
    print(f'\nEvery pair measured the validator\'s way and the prototype\'s agreed. '
          f'Statistics {measure.stats_s:.0f} s; total {time.monotonic() - start:.0f} s')


if __name__ == '__main__':
  main()
