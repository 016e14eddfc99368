"""The Evaluator (TFMA) vs plain predict + metrics, on the same eval images, at three sizes.

  python -m bench.eval_throughput [--sizes 1000,10000,40000]

Two tutorial models are trained for one epoch beforehand (untimed) and exported
as the pipeline does: candidate and baseline. Ours: the TFX Evaluator executor
with the pipeline's EvalConfig (both models, all metrics, overall and per-class
slices, thresholds), in-process DirectRunner. Plain: model.predict and the same
per-image metrics in TF for both models, overall and per class (the Evaluator's
slices). Larger sizes repeat the eval split with distinct example ids.
"""
import argparse
import json
import os
import tempfile
import time

from bench import common
from pipeline import configs


def _prepare(tmp, sizes):
  """Writes NoiseAugmenter-format eval splits of each size and two SavedModels."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from components.ingestion import idx  # pylint: disable=g-import-not-at-top
  from components.model_code import denoise_trainer  # pylint: disable=g-import-not-at-top
  from components.noise import noise  # pylint: disable=g-import-not-at-top
  from components.noise.executor import to_noisy_example  # pylint: disable=g-import-not-at-top
  clean, ids = common.real_images('eval')
  _, labels = idx.load_split(idx.resolve_data_dir(), 'eval')
  flat = clean.reshape(len(clean), -1)
  noisy = noise.add_noise(flat, noise.draw_noise(configs.DEFAULT_SEED, ids),
                          configs.DEFAULT_NOISE_FACTOR)
  for size in sizes:
    split_dir = os.path.join(tmp, f'examples-{size}', 'Split-eval')
    os.makedirs(split_dir)
    with tf.io.TFRecordWriter(os.path.join(split_dir, 'data_tfrecord')) as writer:
      for i in range(size):
        j = i % len(ids)
        writer.write(to_noisy_example(flat[j], noisy[j], int(labels[j]), f'eval-{i}'.encode()))
  x = noisy[:10000].reshape(-1, 28, 28, 1)
  y = clean[:10000]
  for name, seed in (('candidate', 1), ('baseline', 2)):
    tf.keras.utils.set_random_seed(seed)
    ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(32)
    model, _ = denoise_trainer.train('tutorial', ds, ds.take(1), 1,
                                      configs.DEFAULT_LEARNING_RATE)
    denoise_trainer.export_serving_model(model, os.path.join(tmp, name, 'Format-Serving'))


def evaluator(tmp, size):
  from tfx.components.evaluator import executor as evaluator_executor  # pylint: disable=g-import-not-at-top
  from tfx.types import artifact_utils  # pylint: disable=g-import-not-at-top
  from tfx.types import standard_artifacts  # pylint: disable=g-import-not-at-top
  from tfx.utils import proto_utils  # pylint: disable=g-import-not-at-top
  from components.evaluation import eval_config  # pylint: disable=g-import-not-at-top

  def artifact(cls, uri):
    a = cls()
    a.uri = uri
    return a

  examples = artifact(standard_artifacts.Examples, os.path.join(tmp, f'examples-{size}'))
  examples.split_names = artifact_utils.encode_split_names(['eval'])
  out = os.path.join(tmp, f'out-{size}')
  start = time.monotonic()
  evaluator_executor.Executor().Do(
      {'examples': [examples],
       'model': [artifact(standard_artifacts.Model, os.path.join(tmp, 'candidate'))],
       'baseline_model': [artifact(standard_artifacts.Model, os.path.join(tmp, 'baseline'))]},
      {'evaluation': [artifact(standard_artifacts.ModelEvaluation, out + '/evaluation')],
       'blessing': [artifact(standard_artifacts.ModelBlessing, out + '/blessing')]},
      {'eval_config': proto_utils.proto_to_json(eval_config.make_eval_config(
          configs.DEFAULT_MIN_PSNR_GAIN_DB, configs.DEFAULT_MIN_SSIM,
          configs.DEFAULT_MAX_PSNR_DROP_DB)),
       'example_splits': json.dumps(['eval'])})
  return time.monotonic() - start


def plain(tmp, size):
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  import tf_keras  # pylint: disable=g-import-not-at-top
  from components.model_code import metrics  # pylint: disable=g-import-not-at-top
  from components import eval_images  # pylint: disable=g-import-not-at-top
  # Reading is timed, as it is inside the Evaluator's time.
  start = time.monotonic()
  _, labels, clean, noisy = eval_images.load_eval_images(
      os.path.join(tmp, f'examples-{size}', 'Split-eval', '*'))
  for name in ('candidate', 'baseline'):
    model = tf_keras.models.load_model(os.path.join(tmp, name, 'Format-Serving'), compile=False)
    denoised = model.predict(noisy, batch_size=1000, verbose=0)
    for measure in metrics.PER_IMAGE.values():
      for per_image in (measure(clean, denoised), measure(clean, noisy)):
        float(tf.reduce_mean(per_image))
        tf.math.unsorted_segment_mean(per_image, labels, num_segments=10).numpy()  # per class
  return time.monotonic() - start


def worker(sizes):
  with tempfile.TemporaryDirectory() as tmp:
    _prepare(tmp, sizes)
    return {str(size): {'evaluator_s': evaluator(tmp, size), 'plain_s': plain(tmp, size)}
            for size in sizes}


def main():
  parser = argparse.ArgumentParser()
  parser.add_argument('--sizes', default='1000,10000,40000')
  parser.add_argument('--worker', action='store_true')
  args = parser.parse_args()
  sizes = [int(s) for s in args.sizes.split(',')]
  if args.worker:
    common.report({'sizes': worker(sizes)})
    return
  common.header('Evaluation: TFX Evaluator (TFMA) vs predict + metrics, candidate and baseline')
  result = common.run_worker('bench.eval_throughput', '--sizes', args.sizes, '--worker')
  rows = []
  for size in sizes:
    r = result['sizes'][str(size)]
    rows.append([size, r['evaluator_s'], r['plain_s'], r['evaluator_s'] / r['plain_s'],
                 1000 * r['evaluator_s'] / size])
  common.table(['eval images', 'Evaluator s', 'predict + metrics s', 'ratio',
                'Evaluator ms / image'], rows)
  print(f'\npeak memory of the worker: {result["peak_mb"]:.0f} MB')
  common.save('eval_throughput', result)


if __name__ == '__main__':
  main()
