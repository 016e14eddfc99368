"""The Trainer's two input paths at one size: the RAM cache against streaming from the files.

  python -m bench.train_memory [--epochs 3] [--images 60000] [--shards 4] [--rounds 8]

make_dataset with a budget the examples fit in (cached) and with a zero
budget (streamed), each in a fresh process, on the same real
images written beforehand (untimed) as NoiseAugmenter-format TFRecord shards,
trained by train() as run_fn calls it. Reported: epoch times, the wait
between the last epoch's end (on_train_end) and fit's return, peak RSS.
The parent imports no TensorFlow and holds no images: on Linux a worker's
peak RSS (ru_maxrss) counts what it shared with its parent at fork.

The machine's speed drifts within minutes by more than the two paths differ,
so their speed is compared in one more process: one model, fit for
--steps steps on each path in turn, --rounds times; the median time per step.
"""
import argparse
import os
import statistics
import tempfile
import time

from bench import common
from pipeline import configs


def _write_shards(directory, split, limit, shards):
  """The split's images (the first `limit`) as `shards` TFRecord files; returns the pattern."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from components.noise import noise  # pylint: disable=g-import-not-at-top
  from components.noise.executor import to_noisy_example  # pylint: disable=g-import-not-at-top
  clean, ids = common.real_images(split, limit)
  clean = clean.reshape(len(clean), -1)
  noisy = noise.add_noise(clean, noise.draw_noise(configs.DEFAULT_SEED, ids),
                          configs.DEFAULT_NOISE_FACTOR)
  for shard in range(shards):
    with tf.io.TFRecordWriter(os.path.join(directory, f'{split}-{shard:05d}')) as writer:
      for i in range(shard, len(ids), shards):
        writer.write(to_noisy_example(clean[i], noisy[i], 0, ids[i]))
  return os.path.join(directory, f'{split}-*')


EVERYTHING_FITS = 1 << 40  # a memory budget no example set here exceeds
BUDGETS = (('cached', EVERYTHING_FITS), ('streamed', 0))


def worker(train_pattern, eval_pattern, epochs, budget):
  """Trains through make_dataset with this memory budget; returns its timings."""
  import tf_keras  # pylint: disable=g-import-not-at-top
  from components.model_code import denoise_trainer  # pylint: disable=g-import-not-at-top
  times = {'epoch_s': []}

  class Timer(tf_keras.callbacks.Callback):

    def on_epoch_begin(self, epoch, logs=None):
      self.start = time.monotonic()

    def on_epoch_end(self, epoch, logs=None):
      times['epoch_s'].append(time.monotonic() - self.start)
      times['val_loss'] = logs['val_loss']

    def on_train_end(self, logs=None):
      times['train_end'] = time.monotonic()

  batch = configs.DEFAULT_BATCH_SIZE
  train_ds = denoise_trainer.make_dataset([train_pattern], batch, shuffle_seed=configs.DEFAULT_SEED,
                                          memory_budget_bytes=budget)
  eval_ds = denoise_trainer.make_dataset([eval_pattern], batch, memory_budget_bytes=budget)
  denoise_trainer.train('tutorial', train_ds, eval_ds, epochs, configs.DEFAULT_LEARNING_RATE,
                        seed=configs.DEFAULT_SEED, callbacks=[Timer()])
  times['teardown_s'] = time.monotonic() - times.pop('train_end')
  times['load'] = os.getloadavg()[0]
  return times


def alternate(train_pattern, rounds, steps):
  """{path: [ms per step of each round]}: the two paths in turn, one model, one process."""
  from components.model_code import denoise_trainer  # pylint: disable=g-import-not-at-top
  batch = configs.DEFAULT_BATCH_SIZE
  datasets = {path: denoise_trainer.make_dataset(
                  [train_pattern], batch, shuffle_seed=configs.DEFAULT_SEED,
                  memory_budget_bytes=budget).repeat()
              for path, budget in BUDGETS}
  # Builds, compiles and traces the model as run_fn does. The cache fills during
  # the first round (a partial pass leaves it empty): the median leaves that out.
  model, _ = denoise_trainer.train('tutorial', datasets['cached'].take(steps), None, 1,
                                   configs.DEFAULT_LEARNING_RATE, seed=configs.DEFAULT_SEED)
  ms_per_step = {path: [] for path in datasets}
  with denoise_trainer.keras_code_not_converted():
    for _ in range(rounds):
      for path, ds in datasets.items():
        start = time.monotonic()
        model.fit(ds, steps_per_epoch=steps, epochs=1, verbose=0)
        ms_per_step[path].append(1000 * (time.monotonic() - start) / steps)
  return ms_per_step


def main():
  parser = argparse.ArgumentParser()
  parser.add_argument('--epochs', type=int, default=3)
  parser.add_argument('--images', type=int, default=60000)
  parser.add_argument('--shards', type=int, default=4)
  parser.add_argument('--rounds', type=int, default=8)
  parser.add_argument('--steps', type=int, default=800, help='steps per round and path')
  parser.add_argument('--write', metavar='DIR')
  parser.add_argument('--alternate', metavar='TRAIN')
  parser.add_argument('--worker', nargs=3, metavar=('TRAIN', 'EVAL', 'BUDGET'))
  args = parser.parse_args()
  if args.write:
    common.report({'train': _write_shards(args.write, 'train', args.images, args.shards),
                   'eval': _write_shards(args.write, 'eval', None, args.shards)})
    return
  if args.alternate:
    common.report({'ms_per_step': alternate(args.alternate, args.rounds, args.steps)})
    return
  if args.worker:
    from components.model_code import denoise_trainer  # pylint: disable=g-import-not-at-top
    train_pattern, eval_pattern, budget = args.worker
    budget = int(budget)
    common.report(worker(train_pattern, eval_pattern, args.epochs, budget))
    return

  common.header('Trainer input: cached in RAM vs streamed from TFRecords')
  print(f'load average at start: {os.getloadavg()[0]:.2f}\n', flush=True)
  with tempfile.TemporaryDirectory() as tmp:
    patterns = common.run_worker('bench.train_memory', '--images', args.images,
                                 '--shards', args.shards, '--write', tmp)
    results = {
        path: common.run_worker('bench.train_memory', '--epochs', args.epochs, '--worker',
                                patterns['train'], patterns['eval'], budget)
        for path, budget in BUDGETS}
    alternating = common.run_worker('bench.train_memory', '--rounds', args.rounds,
                                    '--steps', args.steps, '--alternate', patterns['train'])
  rows = [[path, args.images, r['epoch_s'][0], sum(r['epoch_s'][1:]) / max(len(r['epoch_s']) - 1, 1),
           r['teardown_s'], r['val_loss'], r['peak_mb'], r['load']]
          for path, r in results.items()]
  common.table(['input', 'train images', 'first epoch s', 'later epochs s',
                'fit return after last epoch s', 'last val_loss', 'peak MB', 'load at end'], rows)
  print(f'\nIn turn in one process, {args.rounds} rounds of {args.steps} steps each:\n')
  ms = alternating['ms_per_step']
  common.table(['input', 'median ms / step', 'fastest round', 'slowest round'],
               [[path, statistics.median(v), min(v), max(v)] for path, v in ms.items()])
  common.save('train_memory', dict(results, alternating=ms))


if __name__ == '__main__':
  main()
