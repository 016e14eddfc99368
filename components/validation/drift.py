"""What data validation compares, with which thresholds, and how an anomaly is told.

Two distances, TFDV's comparators, run by TFX's DistributionValidator:

- the label distribution, L-infinity distance between the class frequencies
  (the label is categorical in the curated schema, so statistics count each
  class);
- the pixel intensity distribution, Jensen-Shannon divergence between the
  histograms of the `image` values.

Drift: the new training data against the training data of the deployed
model; skew: eval against train of the same data. The thresholds come from
`python -m bench.drift_thresholds` (bench/RESULTS.md, 2026-12-07). Between
disjoint clean subsets of Fashion-MNIST of 12,000 images the label distance
was at most 0.015 and the pixel divergence 2e-5 (1,000 images: 0.032 and
4e-4); inverted, one-class and dimmed data measured 0.38, 0.90 and 0.43.
Margins: the label threshold is 3.3x the clean distance at 12,000 (1.6x at
1,000), the pixel one 486x (24x); the faults are 18x and 38x above them.
Below about 1,000 images a split the class frequencies are too noisy for
the label threshold (at 200, half of clean pairs cross it): validate spans
of 1,000 images and more, or run with --nodata_validation.
"""
import os

import tensorflow as tf
from tensorflow_metadata.proto.v0 import anomalies_pb2
from tfx.proto import distribution_validator_pb2

from components import features

LABEL_L_INFINITY_THRESHOLD = 0.05
PIXEL_JSD_THRESHOLD = 0.01

# (test split, baseline split) pairs of each DistributionValidator.
DRIFT_SPLIT_PAIRS = [(features.TRAIN_SPLIT, features.TRAIN_SPLIT)]
SKEW_SPLIT_PAIRS = [(features.EVAL_SPLIT, features.TRAIN_SPLIT)]

ANOMALIES_FILE = 'SchemaDiff.pb'   # what ExampleValidator and DistributionValidator write


def distribution_config():
  """The DistributionValidatorConfig of both distances."""
  config = distribution_validator_pb2.DistributionValidatorConfig()
  label = config.default_slice_config.feature.add()
  label.path.step.append(features.LABEL_KEY)
  label.distribution_comparator.infinity_norm.threshold = LABEL_L_INFINITY_THRESHOLD
  image = config.default_slice_config.feature.add()
  image.path.step.append(features.IMAGE_KEY)
  image.distribution_comparator.jensen_shannon_divergence.threshold = PIXEL_JSD_THRESHOLD
  return config


_MEASUREMENT_NAMES = {
    anomalies_pb2.DriftSkewInfo.Measurement.L_INFTY: 'L-infinity distance',
    anomalies_pb2.DriftSkewInfo.Measurement.JENSEN_SHANNON_DIVERGENCE:
        'Jensen-Shannon divergence',
}


def describe(anomalies, check):
  """One line per anomaly of an Anomalies proto: feature, kind, measured value, threshold.

  check: what was compared ('schema', 'drift vs the deployed data', ...).
  """
  lines, measured = [], set()
  for info in anomalies.drift_skew_info:
    feature = '.'.join(info.path.step)
    for measurement in list(info.drift_measurements) + list(info.skew_measurements):
      if measurement.value > measurement.threshold:
        name = _MEASUREMENT_NAMES.get(measurement.type, str(measurement.type))
        lines.append(f'{check}: {feature}: {name} {measurement.value:.4g} above the '
                     f'threshold {measurement.threshold:.4g}')
        measured.add(feature)
  for feature, info in sorted(anomalies.anomaly_info.items()):
    if feature in measured:
      continue   # told above, with its numbers
    for reason in info.reason:
      lines.append(f'{check}: {feature}: {reason.short_description} ({reason.description})')
  for reason in anomalies.dataset_anomaly_info.reason:
    lines.append(f'{check}: dataset: {reason.short_description} ({reason.description})')
  return lines


def read_anomalies(uri):
  """{split or split pair directory name: Anomalies} of an ExampleAnomalies artifact."""
  found = {}
  for path in sorted(tf.io.gfile.glob(os.path.join(uri, '*', ANOMALIES_FILE))):
    with tf.io.gfile.GFile(path, 'rb') as f:
      found[os.path.basename(os.path.dirname(path))] = anomalies_pb2.Anomalies.FromString(
          f.read())
  return found
