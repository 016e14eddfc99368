"""Gates that can fail, component by component: data validation on real Fashion-MNIST, and the
model gate against the best deployed version.

Through local_runner.py and the compiled package the gates are exercised by
tests/test_pipeline_e2e.py (faulty spans stopped before training) and
tests/test_kfp_execution.py (the DataGate task failing the run).
"""
import json
import os
import re
import shutil

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_data_validation as tfdv
import tensorflow_model_analysis as tfma
import tf_keras as keras
from google.protobuf import text_format
from tensorflow_metadata.proto.v0 import schema_pb2
from tfx.components.example_validator import executor as example_validator_executor
from tfx.types import artifact_utils
from tfx.types import standard_artifacts
from tfx.utils import proto_utils

from components import eval_images
from components import features
from components import keys
from components import schema as schema_lib
from components import serving_dir as serving_dir_lib
from components import tfrecord_io
from components.baseline import executor as baseline_executor
from components.data_gate import executor as data_gate_executor
from components.evaluation import eval_config
from components.evaluation import executor as evaluator_executor
from components.ingestion import executor as ingestion_executor
from components.ingestion import idx
from components.model_code import denoise_trainer
from components.model_code import metrics as metrics_lib
from components.noise.component import NoiseAugmenter
from components.validation import distribution_validator
from components.validation import drift
from tests import conftest
from tests import tfx_helpers

# ---------------------------------------------------------------- data validation

SUBSETS, TRAIN_IMAGES, EVAL_IMAGES = 5, 2000, 400


def _statistics_artifact(directory, splits):
  """An ExampleStatistics artifact of {split: (images, labels)}, as StatisticsGen with the
  curated schema computes it."""
  schema = text_format.Parse(open(schema_lib.SCHEMA_FILE).read(), schema_pb2.Schema())
  artifact = standard_artifacts.ExampleStatistics()
  artifact.uri = str(directory)
  artifact.split_names = artifact_utils.encode_split_names(list(splits))
  for split, (images, labels) in splits.items():
    records = os.path.join(directory, f'{split}.tfrecord')
    os.makedirs(directory, exist_ok=True)
    with open(records, 'wb') as f:
      f.write(tfrecord_io.frame_tfrecords(ingestion_executor.to_examples(
          images.reshape(len(images), -1), labels,
          [idx.example_id(split, i) for i in range(len(images))])))
    statistics = tfdv.generate_statistics_from_tfrecord(
        records, stats_options=tfdv.StatsOptions(schema=schema))
    os.makedirs(os.path.join(directory, f'Split-{split}'))
    with open(os.path.join(directory, f'Split-{split}', 'FeatureStats.pb'), 'wb') as f:
      f.write(statistics.SerializeToString())
  return artifact


def _schema_artifact(directory):
  """The curated schema as ImportSchemaGen outputs it: the only file of its directory."""
  artifact = standard_artifacts.Schema()
  artifact.uri = str(directory)
  os.makedirs(directory, exist_ok=True)
  shutil.copy(schema_lib.SCHEMA_FILE, directory)
  return artifact


def _anomalies(directory, name):
  artifact = standard_artifacts.ExampleAnomalies()
  artifact.uri = str(directory / name)
  return artifact


def gate(directory, statistics, deployed_statistics):
  """Runs the three checks as the pipeline wires them, then the DataGate's executor."""
  schema_check, drift_check, skew_check = (
      _anomalies(directory, name) for name in ('schema', 'drift', 'skew'))
  example_validator_executor.Executor().Do(
      {keys.STATISTICS_KEY: [statistics],
       keys.SCHEMA_KEY: [_schema_artifact(directory / 'curated_schema')]},
      {keys.ANOMALIES_KEY: [schema_check]}, {'exclude_splits': '[]'})
  for anomalies, baseline, pairs in ((drift_check, deployed_statistics, drift.DRIFT_SPLIT_PAIRS),
                                     (skew_check, statistics, drift.SKEW_SPLIT_PAIRS)):
    distribution_validator.Executor().Do(
        {keys.STATISTICS_KEY: [statistics], keys.BASELINE_STATISTICS_KEY: [baseline]},
        {keys.ANOMALIES_KEY: [anomalies]},
        {'distribution_validator_config': proto_utils.proto_to_json(
            drift.distribution_config()),   # JSON, as Kubeflow's entrypoint hands it
         'include_split_pairs': json.dumps(pairs)})
  data_gate_executor.Executor().Do({keys.SCHEMA_ANOMALIES_KEY: [schema_check],
                                    keys.DRIFT_ANOMALIES_KEY: [drift_check],
                                    keys.SKEW_ANOMALIES_KEY: [skew_check]}, {}, {})


@pytest.fixture(scope='module', name='real_subsets')
def fixture_real_subsets(tmp_path_factory):
  """Statistics of five disjoint subsets of Fashion-MNIST (2,000 train, 400 eval images each)."""
  if not conftest.real_data_available():
    pytest.skip('real Fashion-MNIST not installed (apt-get install dataset-fashion-mnist)')
  root = tmp_path_factory.mktemp('subsets')
  train = idx.load_split(conftest.REAL_DATA_DIR, features.TRAIN_SPLIT)
  evals = idx.load_split(conftest.REAL_DATA_DIR, features.EVAL_SPLIT)
  subsets = []
  for k in range(SUBSETS):
    t, e = slice(k * TRAIN_IMAGES, (k + 1) * TRAIN_IMAGES), slice(k * EVAL_IMAGES,
                                                                 (k + 1) * EVAL_IMAGES)
    subsets.append((train[0][t], train[1][t], evals[0][e], evals[1][e]))
  statistics = [_statistics_artifact(root / f'subset-{k}', {
      features.TRAIN_SPLIT: (s[0], s[1]), features.EVAL_SPLIT: (s[2], s[3])})
                for k, s in enumerate(subsets)]
  return root, subsets, statistics


def test_disjoint_clean_subsets_of_fashion_mnist_raise_no_false_alarm(real_subsets, tmp_path):
  _, _, statistics = real_subsets
  for k in range(SUBSETS):   # each against the one before it, as a new span against the last
    gate(tmp_path / f'check-{k}', statistics[k], statistics[k - 1])


@pytest.mark.parametrize('fault, message', [
    ('inverted', r'drift .*: image: Jensen-Shannon divergence 0\.\d+ above the threshold 0\.01'),
    ('one class', r'drift .*: label: L-infinity distance 0\.\d+ above the threshold 0\.05'),
    ('dimmed', r'drift .*: image: Jensen-Shannon divergence 0\.\d+ above the threshold 0\.01'),
])
def test_faulty_exports_of_real_data_are_stopped_naming_feature_and_distance(
    real_subsets, tmp_path, fault, message):
  _, subsets, statistics = real_subsets
  train_images, train_labels, eval_pixels, eval_labels = subsets[1]
  spoil = {'inverted': lambda i, l: (255 - i, l), 'dimmed': lambda i, l: (i // 3, l),
           'one class': lambda i, l: (i, np.zeros_like(l))}[fault]
  faulty = _statistics_artifact(tmp_path / 'faulty', {
      features.TRAIN_SPLIT: spoil(train_images, train_labels),
      features.EVAL_SPLIT: spoil(eval_pixels, eval_labels)})
  with pytest.raises(data_gate_executor.DataAnomaliesError, match=message):
    gate(tmp_path / 'check', faulty, statistics[0])


def test_eval_data_unlike_the_training_data_is_skew(real_subsets, tmp_path):
  _, subsets, statistics = real_subsets
  train_images, train_labels, eval_pixels, eval_labels = subsets[2]
  skewed = _statistics_artifact(tmp_path / 'skewed', {
      features.TRAIN_SPLIT: (train_images, train_labels),
      features.EVAL_SPLIT: (255 - eval_pixels, eval_labels)})
  with pytest.raises(data_gate_executor.DataAnomaliesError,
                     match=r'skew of eval from train \(SplitPair-eval_train\): image: '):
    gate(tmp_path / 'check', skewed, statistics[0])


# ---------------------------------------------------------------- the best deployed version

def _scaling_model(scale):
  """A "denoiser" that multiplies its input by scale: its PSNR is set by the scale."""
  images = keras.Input(features.IMAGE_SHAPE, name=features.SERVING_INPUT_KEY)
  return keras.Model(images, keras.layers.Rescaling(scale)(images))


@pytest.fixture(scope='module', name='eval_examples')
def fixture_eval_examples(tmp_path_factory):
  """Augmented examples of 200 test images, through the pipeline's own components."""
  root = tmp_path_factory.mktemp('examples')
  data_dir = conftest.write_dataset(root / 'data', 40, 200)
  gen = tfx_helpers.example_gen(data_dir)
  augmenter = NoiseAugmenter(examples=gen.outputs['examples'], noise_factor=0.2, seed=1)
  config = tfx_helpers.run_components([gen, augmenter], str(root))
  [augmented] = [a for a in tfx_helpers.live_artifacts(config, 'Examples')
                 if '/NoiseAugmenter/' in a.uri]
  examples = standard_artifacts.Examples()
  examples.set_mlmd_artifact(augmented)
  return examples


def _mean_psnr(model, examples):
  _, _, clean, noisy = eval_images.load_eval_images(
      os.path.join(examples.uri, f'Split-{features.EVAL_SPLIT}', '*'))
  return float(np.mean(metrics_lib.PER_IMAGE['psnr'](clean, model(noisy).numpy())))


def _scale_for_psnr(target, examples):
  """The scale (<= 1) at which the scaling model's mean PSNR is target, by bisection."""
  low, high = 0.5, 1.0
  for _ in range(30):
    middle = (low + high) / 2
    low, high = (middle, high) if _mean_psnr(_scaling_model(middle), examples) < target else (
        low, middle)
  return (low + high) / 2


def _model_artifact(directory, model):
  artifact = standard_artifacts.Model()
  artifact.uri = str(directory)
  denoise_trainer.export_serving_model(model, os.path.join(directory, 'Format-Serving'))
  return artifact


def _evaluate(tmp_path, name, candidate, baseline, examples, max_psnr_drop_db):
  """The GatedEvaluator's executor on the candidate: (blessed, failed gates)."""
  evaluation, blessing = standard_artifacts.ModelEvaluation(), standard_artifacts.ModelBlessing()
  evaluation.uri, blessing.uri = str(tmp_path / name / 'evaluation'), str(tmp_path / name / 'b')
  evaluator_executor.Executor().Do(
      {keys.EXAMPLES_KEY: [examples], keys.MODEL_KEY: [candidate],
       keys.BASELINE_MODEL_KEY: [baseline]},
      {keys.EVALUATION_KEY: [evaluation], keys.BLESSING_KEY: [blessing]},
      {keys.EXAMPLE_SPLITS_KEY: '["eval"]', keys.MIN_PSNR_GAIN_DB_KEY: -100.0,
       keys.MIN_SSIM_KEY: -1.0, keys.MAX_PSNR_DROP_DB_KEY: max_psnr_drop_db,
       keys.MAX_SSIM_DROP_KEY: 2.0})
  return (blessing.get_int_custom_property('blessed') == 1,
          eval_config.explain_failures(tfma.load_validation_result(evaluation.uri)))


def test_small_losses_cannot_add_up_past_the_tolerance_of_the_best_version(
    tmp_path, eval_examples):
  """Versions v1 (best), then v2 = v1 - d; a candidate at v2 - d is within the tolerance
  (1.5 d) of v2, the newest, but not of v1: the baseline is v1, and the candidate is refused."""
  identity_psnr = _mean_psnr(_scaling_model(1.0), eval_examples)
  step = 0.3
  scales = [_scale_for_psnr(identity_psnr - k * step, eval_examples) for k in (0, 1, 2)]
  psnr = [_mean_psnr(_scaling_model(s), eval_examples) for s in scales]
  assert psnr[0] - psnr[1] == pytest.approx(step, abs=0.01)
  assert psnr[1] - psnr[2] == pytest.approx(step, abs=0.01)
  tolerance = 1.5 * step
  serving = str(tmp_path / 'serving')
  deployed = []
  for k in (0, 1):   # v1, then v2 within the tolerance of v1: both pushed
    model_dir = str(tmp_path / f'model-{k}')
    denoise_trainer.export_serving_model(_scaling_model(scales[k]), model_dir)
    deployed.append(os.path.basename(serving_dir_lib.publish(
        model_dir, serving, {}, deployed[-1] if deployed else '',
        now=lambda k=k: 1_000_000 + k)))
  candidate = _model_artifact(tmp_path / 'candidate', _scaling_model(scales[2]))
  baseline = standard_artifacts.Model()
  baseline.uri = str(tmp_path / 'baseline')
  baseline_executor.Executor().Do(
      {keys.MODEL_KEY: [candidate], keys.EXAMPLES_KEY: [eval_examples]},
      {keys.BASELINE_MODEL_KEY: [baseline]},
      {keys.SERVING_DIR_KEY: serving, keys.DEPLOYED_VERSIONS_KEY: ','.join(deployed)})
  # The best version is the baseline; the newest is what the pusher swaps.
  assert baseline.get_string_custom_property(keys.DEPLOYED_VERSION_KEY) == deployed[0]
  assert baseline.get_string_custom_property(keys.NEWEST_VERSION_PROPERTY) == deployed[1]
  blessed, reasons = _evaluate(tmp_path, 'vs best', candidate, baseline, eval_examples,
                               tolerance)
  assert not blessed
  [reason] = reasons
  assert re.fullmatch(r'denoised_psnr change vs baseline -0\.(59|60|61)\d* is below the allowed '
                      r'-0\.4500 by 0\.1\d+', reason), reason
  # Against the newest version alone, the same candidate would have passed.
  newest = _model_artifact(tmp_path / 'newest', _scaling_model(scales[1]))
  newest.set_string_custom_property(keys.DEPLOYED_VERSION_KEY, deployed[1])
  assert _evaluate(tmp_path, 'vs newest', candidate, newest, eval_examples, tolerance)[0]
