"""The Evaluator against a baseline deployed by an earlier version of the Trainer."""
import json
import os

import numpy as np
import tensorflow as tf
from tfx.types import artifact_utils
from tfx.types import standard_artifacts

from components import features
from components import keys
from components.evaluation import eval_config
from components.evaluation import executor as evaluator_executor
from components.model_code import denoise_trainer
from components.noise import noise
from components.noise.executor import to_noisy_example
from pipeline import configs
from tests import conftest

N_EVAL = 48


def _artifact(cls, uri):
  artifact = cls()
  artifact.uri = uri
  return artifact


def _export_with_serialized_examples_signature(model, export_dir):
  """The SavedModel as the Trainer exported it before 2026-11-27: its
  examples signature took serialized tf.Examples."""
  @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name='serialized_examples')])
  def serve_examples(serialized_examples):
    noisy = tf.reshape(tf.io.parse_example(
        serialized_examples, features.augmented_feature_spec(features.NOISY_KEY)
    )[features.NOISY_KEY], [-1, *features.IMAGE_SHAPE])
    denoised = model(noisy, training=False)
    return {features.SERVING_OUTPUT_KEY: denoised,
            features.EVAL_OUTPUT_KEY: tf.concat([denoised, noisy], axis=-1)}

  model.save(export_dir, save_format='tf',
             signatures={features.EXAMPLES_SIGNATURE: serve_examples})


def test_a_baseline_exported_with_the_earlier_signature_is_evaluated_alike(tmp_path):
  images, labels = conftest.make_images(N_EVAL, 0)
  clean = noise.to_unit_float(images.reshape(N_EVAL, -1))
  ids = [f'eval-{i}'.encode() for i in range(N_EVAL)]
  noisy = noise.add_noise(clean, noise.draw_noise(0, ids), configs.DEFAULT_NOISE_FACTOR)
  examples = _artifact(standard_artifacts.Examples, str(tmp_path / 'examples'))
  examples.split_names = artifact_utils.encode_split_names([features.EVAL_SPLIT])
  os.makedirs(tmp_path / 'examples' / 'Split-eval')
  with tf.io.TFRecordWriter(str(tmp_path / 'examples' / 'Split-eval' / 'data')) as writer:
    for i in range(N_EVAL):
      writer.write(to_noisy_example(clean[i], noisy[i], int(labels[i]), ids[i]))
  shape = (N_EVAL, *features.IMAGE_SHAPE)
  ds = tf.data.Dataset.from_tensor_slices((noisy.reshape(shape), clean.reshape(shape))).batch(16)
  model, _ = denoise_trainer.train('tutorial', ds, ds, epochs=1, learning_rate=1e-3, seed=0)
  # One model, exported both ways: the candidate as the Trainer exports it now.
  denoise_trainer.export_serving_model(model, str(tmp_path / 'candidate' / 'Format-Serving'))
  _export_with_serialized_examples_signature(model, str(tmp_path / 'baseline' / 'Format-Serving'))
  baseline = _artifact(standard_artifacts.Model, str(tmp_path / 'baseline'))
  baseline.set_string_custom_property(keys.DEPLOYED_VERSION_KEY, '1')

  evaluator_executor.Executor().Do(
      {keys.EXAMPLES_KEY: [examples],
       keys.MODEL_KEY: [_artifact(standard_artifacts.Model, str(tmp_path / 'candidate'))],
       keys.BASELINE_MODEL_KEY: [baseline]},
      {keys.EVALUATION_KEY: [_artifact(standard_artifacts.ModelEvaluation,
                                       str(tmp_path / 'evaluation'))],
       keys.BLESSING_KEY: [_artifact(standard_artifacts.ModelBlessing,
                                     str(tmp_path / 'blessing'))]},
      {keys.EXAMPLE_SPLITS_KEY: json.dumps([features.EVAL_SPLIT]),
       keys.MIN_PSNR_GAIN_DB_KEY: 0.0, keys.MIN_SSIM_KEY: 0.0, keys.MAX_PSNR_DROP_DB_KEY: 0.1,
       keys.MAX_SSIM_DROP_KEY: 0.005})

  overall = eval_config.load_metrics(str(tmp_path / 'evaluation'))['overall']
  candidate, deployed = overall[eval_config.CANDIDATE], overall[eval_config.BASELINE]
  for metric in (features.MSE_METRIC, features.PSNR_METRIC, features.SSIM_METRIC):
    np.testing.assert_allclose(deployed[metric], candidate[metric], rtol=1e-5)
  assert abs(overall['diff'][features.PSNR_METRIC]) < 1e-4
