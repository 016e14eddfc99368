"""U-Net candidates against the tutorial model: 10 epochs each on the real data, side by side.

  python -m bench.unet_candidates [--epochs 10] [--models tutorial,unet,...]

Every model trains through the Trainer's own path (make_dataset over
NoiseAugmenter-format TFRecords of all 60,000 training images, noise 0.2,
seed 42; denoise_trainer.train as run_fn calls it: Adam 1e-3, batch 32,
fit's validation on the eval images each epoch), each in a fresh process,
one after the other on the same machine. Reported per model: parameters, ms
per training step (mean over epochs 2..N, fit's validation excluded),
Trainer seconds (the whole train() call), mean per-image PSNR and SSIM on
the 10,000 eval images, the Trainer time as a multiple of the tutorial
model's, and the robustness sweep of the report (PSNR and SSIM on the first
1,000 eval images at noise 0.1-0.5). Goal (issue #23): PSNR >= 25.0 dB
within 3x.

A model given as name:policy (unet:mixed_bfloat16) trains under that Keras
dtype policy and is measured as run_fn exports it (bfloat16-trained models
as their float32 copy); a bare name trains in float32.

Candidates are built by _unet() below and registered under their own name
in the worker only; 'unet' is the model.py function as committed.
"""
import argparse
import os
import time

from bench import common
from pipeline import configs

DATA_DIR = os.path.join(common.OUT_DIR, 'unet_candidates_data')
GOAL_PSNR, GOAL_RATIO = 25.0, 3.0


def _unet(width=48, width7=None, enc14=1, mid7=1, dec14=1, context_units=0):
  """A builder of the committed U-Net's shape with more convs or channels per level.

  context_units > 0 adds a global path at 7x7: the level's features flattened
  through a dense layer of that many units and back to 7x7, added to them.
  """
  def build():
    import tf_keras as keras  # pylint: disable=g-import-not-at-top
    from tf_keras import layers  # pylint: disable=g-import-not-at-top
    from components import features  # pylint: disable=g-import-not-at-top
    from components.model_code import model as m  # pylint: disable=g-import-not-at-top
    w7 = width7 or 2 * width
    images = keras.Input(features.IMAGE_SHAPE, name=features.SERVING_INPUT_KEY)
    x = m.SpaceToDepth()(images)
    for _ in range(enc14):
      x = m._conv(width)(x)  # pylint: disable=protected-access
    level_14 = x
    x = m._conv(w7, strides=2)(level_14)  # pylint: disable=protected-access
    for _ in range(mid7):
      x = m._conv(w7)(x)  # pylint: disable=protected-access
    if context_units:
      g = layers.Dense(context_units, activation='relu')(layers.Flatten()(x))
      g = layers.Dense(7 * 7 * w7, activation='relu')(g)
      x = layers.Add()([x, layers.Reshape((7, 7, w7))(g)])
    x = layers.Conv2DTranspose(width, 3, strides=2, padding='same', activation='relu')(x)
    x = layers.Add()([x, level_14])
    for _ in range(dec14):
      x = m._conv(width)(x)  # pylint: disable=protected-access
    noise = m.DepthToSpace()(layers.Conv2D(4, 3, padding='same')(x))
    out = layers.Subtract(dtype='float32')([images, noise])
    out = layers.ReLU(max_value=1.0, dtype='float32')(out)
    return keras.Model(images, out, name='unet')
  return build


CANDIDATES = {
    'slim32': _unet(width=32),
    'wide64': _unet(width=64),
    'deep7_48': _unet(width=48, width7=128, enc14=1, mid7=3, dec14=1),
    'deep64': _unet(width=64, width7=128, enc14=2, mid7=2, dec14=2),
    'context48': _unet(width=48, context_units=128),
    'context32': _unet(width=32, context_units=128),
}
DEFAULT_MODELS = ('tutorial', 'unet', *CANDIDATES)


def prepare_data():
  """The noisy train and eval TFRecords (all images), written once under bench/out."""
  from bench import train_throughput  # pylint: disable=g-import-not-at-top
  paths = {s: os.path.join(DATA_DIR, f'{s}.tfrecord') for s in ('train', 'eval')}
  if not all(os.path.exists(p) for p in paths.values()):
    os.makedirs(DATA_DIR, exist_ok=True)
    for split, path in paths.items():
      train_throughput._write_noisy_tfrecords(path + '.tmp', split, None)  # pylint: disable=protected-access
      os.replace(path + '.tmp', path)
  return paths


def worker(spec, epochs):
  """Trains one model; spec is a name, or name:policy for a Keras dtype policy (default float32)."""
  name, _, precision = spec.partition(':')
  import numpy as np  # pylint: disable=g-import-not-at-top
  import tf_keras  # pylint: disable=g-import-not-at-top
  from bench import train_throughput  # pylint: disable=g-import-not-at-top
  from components.model_code import denoise_trainer  # pylint: disable=g-import-not-at-top
  from components.model_code import metrics  # pylint: disable=g-import-not-at-top
  from components.model_code import model as model_lib  # pylint: disable=g-import-not-at-top
  from components import eval_images  # pylint: disable=g-import-not-at-top
  from components import features  # pylint: disable=g-import-not-at-top
  from components.report import report  # pylint: disable=g-import-not-at-top
  if name in CANDIDATES:
    model_lib.MODELS[name] = CANDIDATES[name]
  paths = prepare_data()
  batch = configs.DEFAULT_BATCH_SIZE
  train_ds = denoise_trainer.make_dataset([paths['train']], batch,
                                          shuffle_seed=configs.DEFAULT_SEED)
  eval_ds = denoise_trainer.make_dataset([paths['eval']], batch)
  steps = int(train_ds.cardinality())
  epoch_s = []
  start = time.monotonic()
  model, history = denoise_trainer.train(
      name, train_ds, eval_ds, epochs, configs.DEFAULT_LEARNING_RATE, seed=configs.DEFAULT_SEED,
      precision=precision or 'float32', callbacks=[train_throughput._epoch_timer(tf_keras, epoch_s)])  # pylint: disable=protected-access
  trainer_s = time.monotonic() - start
  model = denoise_trainer.model_to_export(name, model, precision)
  ids, _, clean, noisy = eval_images.load_eval_images(paths['eval'])
  denoised = model.predict(noisy, batch_size=1000, verbose=0)
  sweep = report.robustness_sweep(
      lambda images: {features.SERVING_OUTPUT_KEY: model(images, training=False)},
      clean[:report.ROBUSTNESS_IMAGES], ids[:report.ROBUSTNESS_IMAGES], configs.DEFAULT_SEED)
  later = epoch_s[1:] or epoch_s
  return {'model': spec, 'params': int(model.count_params()), 'trainer_s': trainer_s,
          'epoch_s': epoch_s, 'ms_per_step': 1000 * sum(later) / len(later) / steps,
          'psnr': float(np.mean(metrics.PER_IMAGE['psnr'](clean, denoised))),
          'ssim': float(np.mean(metrics.PER_IMAGE['ssim'](clean, denoised))),
          'val_loss': history.history['val_loss'],
          'robustness_psnr': {r['noise_factor']: r['model_psnr'] for r in sweep},
          'robustness_ssim': {r['noise_factor']: r['model_ssim'] for r in sweep}}


def main():
  parser = argparse.ArgumentParser()
  parser.add_argument('--epochs', type=int, default=configs.DEFAULT_EPOCHS)
  parser.add_argument('--models', default=','.join(DEFAULT_MODELS))
  parser.add_argument('--worker', help='(internal) the one model to train in this process')
  args = parser.parse_args()
  if args.worker:
    common.report(worker(args.worker, args.epochs))
    return

  common.header('U-Net candidates vs the tutorial model, Trainer path, real data')
  prepare_data()
  results = []
  for name in args.models.split(','):
    results.append(common.run_worker('bench.unet_candidates', '--worker', name,
                                     '--epochs', args.epochs))
    r = results[-1]
    print(f"{name}: {r['params']:,} params, {r['ms_per_step']:.2f} ms/step, "
          f"{r['trainer_s']:.0f} s, {r['psnr']:.2f} dB, {r['ssim']:.4f}", flush=True)
    common.save(f'unet_candidates_{args.epochs}ep', results)   # as it goes: a run may be cut short
  base = next((r['trainer_s'] for r in results if r['model'].startswith('tutorial')), None)
  print('\nRobustness: mean PSNR (SSIM) on the first eval images at each noise factor')
  factors = list(results[0]['robustness_psnr'])
  common.table(['model', *factors],
               [[r['model'], *(f"{r['robustness_psnr'][f]:.2f} ({r['robustness_ssim'][f]:.3f})"
                               for f in factors)] for r in results])
  print()
  common.table(['model', 'params', 'ms / step', 'Trainer s', 'PSNR dB', 'SSIM',
                'Trainer time / tutorial', 'goal met'],
               [[r['model'], r['params'], r['ms_per_step'], r['trainer_s'], r['psnr'], r['ssim'],
                 f"{r['trainer_s'] / base:.2f}x" if base else '-',
                 'yes' if base and r['psnr'] >= GOAL_PSNR and r['trainer_s'] <= GOAL_RATIO * base
                 else 'no'] for r in results])


if __name__ == '__main__':
  main()
