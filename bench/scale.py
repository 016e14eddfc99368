"""The pipeline on 1x and 10x the training images: wall time and peak memory, per run and per stage.

  python -m bench.scale                 # both pipeline runs (about 15-20 minutes)
  python -m bench.scale ingestion       # the ingestion executor alone, 1x and 10x

Each pipeline run is a fresh process of local_runner.py with a fresh
--output_dir, --epochs=1 and the defaults otherwise (all 10,000 eval images).
The 10x data are real images: ten copies of the 60,000, each moved by its own
(dx, dy) of at most 2 pixels, labels repeated, written once as gzipped IDX
into bench/out/ next to the real t10k files (not timed with the pipeline).

Peak memory per stage: a thread samples the runner's /proc status every
SAMPLE_SECONDS, reading VmHWM (the peak resident size) and then resetting it
(writing 5 to /proc/<pid>/clear_refs), so each sample is the true peak of its
interval, short spikes included; child processes add their private memory as
sampled (a fork's shared pages are the runner's, counted already). The console's '[component] running ...' and
'[component] ... in N s' lines, timestamped as they arrive, give each
component's interval; a stage's peak is the largest sample overlapping it (up
to SAMPLE_SECONDS of its neighbours bleed in).
"""
import gzip
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import threading
import time

import numpy as np

from bench import common

COPIES = 10
# (dx, dy) of each copy: copy 0 is the real set.
SHIFTS = ((0, 0), (1, 0), (-1, 0), (0, 1), (0, -1), (1, 1), (-1, -1), (1, -1), (-1, 1), (2, 0))
SCALED_DIR = os.path.join(common.OUT_DIR, f'fashion-mnist-{COPIES}x')
SAMPLE_SECONDS = 0.1
STAGE_LINE = re.compile(r'^\[(\S+)\] (?:running \.\.\.|\w+ in [\d.]+ s)$')
START_UP = '(start-up: imports, before the first component)'


def shifted(images, dx, dy):
  """images [n, 28, 28] moved dx pixels right and dy down; the uncovered edge is black."""
  pad = max(map(abs, (dx, dy)))
  size = images.shape[1]
  padded = np.pad(images, ((0, 0), (pad, pad), (pad, pad)))
  return padded[:, pad - dy:pad - dy + size, pad - dx:pad - dx + size]


def make_scaled_data(real_dir):
  """Writes the 10x training set (once) and the real t10k files into SCALED_DIR.

  Returns the seconds it took (0 when it was there already).
  """
  from components.ingestion import data_sources  # pylint: disable=g-import-not-at-top
  from components.ingestion import idx  # pylint: disable=g-import-not-at-top
  done_marker = os.path.join(SCALED_DIR, 'COMPLETE')
  if os.path.exists(done_marker):
    return 0.0
  start = time.monotonic()
  os.makedirs(SCALED_DIR, exist_ok=True)
  images, labels = idx.load_split(real_dir, 'train')
  images_stem, labels_stem = data_sources.FILE_STEMS['train']
  with gzip.open(os.path.join(SCALED_DIR, images_stem + '.gz'), 'wb', compresslevel=6) as f:
    f.write(struct.pack('>4i', idx.IMAGES_MAGIC, COPIES * len(images), *images.shape[1:]))
    for dx, dy in SHIFTS[:COPIES]:
      f.write(shifted(images, dx, dy).tobytes())
  idx.write_idx(os.path.join(SCALED_DIR, labels_stem + '.gz'), np.tile(labels, COPIES))
  for stem in data_sources.FILE_STEMS['eval']:
    shutil.copy(idx.find_file(real_dir, stem), SCALED_DIR)
  with open(done_marker, 'w') as f:
    f.write(f'{COPIES} shifted copies: {SHIFTS[:COPIES]}\n')
  return time.monotonic() - start


def _status_kb(pid, field):
  with open(f'/proc/{pid}/status') as f:
    for line in f:
      if line.startswith(field + ':'):
        return int(line.split()[1])
  return 0


def _descendants(pid):
  """The process ids below pid; [] for a process that has ended."""
  found = []
  try:
    for task in os.listdir(f'/proc/{pid}/task'):
      with open(f'/proc/{pid}/task/{task}/children') as f:
        for child in map(int, f.read().split()):
          found += [child] + _descendants(child)
  except OSError:
    pass
  return found


def _private_mb(pid):
  """Memory a process does not share: a fork's copy-on-write pages are its parent's."""
  kb = 0
  with open(f'/proc/{pid}/smaps_rollup') as f:
    for line in f:
      if line.startswith(('Private_Clean:', 'Private_Dirty:')):
        kb += int(line.split()[1])
  return kb / 1024


def _command(pid):
  with open(f'/proc/{pid}/cmdline', 'rb') as f:
    return f.read().replace(b'\0', b' ').decode(errors='replace').strip()[:120]


class PeakSampler(threading.Thread):
  """Samples a process's peak resident memory per interval: [(time, MB)].

  Child processes' private memory, sampled, is added in: what the run needs.
  """

  def __init__(self, pid):
    super().__init__(daemon=True)
    self.pid = pid
    self.samples = []
    self.children = {}  # command line of each child process seen -> its largest MB
    self._done = threading.Event()

  def run(self):
    while not self._done.wait(SAMPLE_SECONDS):
      children_mb = 0.0
      for child in _descendants(self.pid):
        try:
          mb, command = _private_mb(child), _command(child)
        except OSError:
          continue  # it ended while being read
        self.children[command] = max(self.children.get(command, 0), mb)
        children_mb += mb
      try:
        peak_kb = _status_kb(self.pid, 'VmHWM')
        with open(f'/proc/{self.pid}/clear_refs', 'w') as f:
          f.write('5')  # resets VmHWM to the current resident size
      except OSError:
        return  # the process ended
      self.samples.append((time.monotonic(), peak_kb / 1024 + children_mb))

  def stop(self):
    self._done.set()
    self.join()

  def peak_mb(self, start=float('-inf'), end=float('inf')):
    """The largest peak of the intervals that overlap [start, end]."""
    previous, peak = float('-inf'), 0.0
    for t, mb in self.samples:
      if t >= start and previous <= end:
        peak = max(peak, mb)
      previous = t
    return peak


def run_pipeline(data_dir):
  """One local_runner.py run, 1 epoch: (wall s, peak MB, stages, summary, {child command: MB}).

  stages: [(name, seconds, peak MB)], start-up first.
  """
  output_dir = tempfile.mkdtemp(prefix='scale-')
  try:
    start = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, 'local_runner.py', f'--output_dir={output_dir}',
         f'--data_dir={data_dir}', '--epochs=1'],
        cwd=common.ROOT, env=dict(os.environ, PYTHONPATH=common.ROOT),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    sampler = PeakSampler(proc.pid)
    sampler.start()
    marks = []  # (time, component) at each component's first and last line
    tail = []
    for line in proc.stdout:
      match = STAGE_LINE.match(line.strip())
      if match:
        marks.append((time.monotonic(), match.group(1)))
      tail = (tail + [line])[-40:]
    status = proc.wait()
    wall = time.monotonic() - start
    sampler.stop()
    if status != 0:
      raise RuntimeError('local_runner.py failed:\n' + ''.join(tail))
    with open(os.path.join(output_dir, 'run_summary.json')) as f:
      summary = json.load(f)
  finally:
    shutil.rmtree(output_dir, ignore_errors=True)
  windows = {}
  for t, name in marks:
    windows.setdefault(name, [t, t])[1] = t
  first = min(t for t, _ in marks)
  stages = [(START_UP, first - start, sampler.peak_mb(end=first))]
  for component in summary['components']:
    begin, end = windows[component['id']]
    stages.append((component['id'], component['seconds'], sampler.peak_mb(begin, end)))
  return wall, sampler.peak_mb(), stages, summary, sampler.children


def ingestion_worker(data_dir, output_dir):
  """In a fresh process: the ingestion executor alone on data_dir; reports its peak memory."""
  import resource  # pylint: disable=g-import-not-at-top
  from tfx.types import standard_artifacts  # pylint: disable=g-import-not-at-top
  from components import keys  # pylint: disable=g-import-not-at-top
  from components.ingestion import executor  # pylint: disable=g-import-not-at-top
  imported_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
  examples = standard_artifacts.Examples()
  examples.uri = output_dir
  start = time.monotonic()
  executor.Executor().Do({}, {keys.EXAMPLES_KEY: [examples]}, {keys.DATA_DIR_KEY: data_dir})
  common.report({'seconds': time.monotonic() - start, 'imported_mb': imported_mb})


def bench_ingestion(real_dir):
  common.header('Ingestion executor alone: peak memory at 1x and 10x the training images')
  rows = []
  for label, data_dir, images in (('1x', real_dir, 60000), (f'{COPIES}x', SCALED_DIR, 60000 * COPIES)):
    output_dir = tempfile.mkdtemp(prefix='scale-ingestion-')
    try:
      result = common.run_worker('bench.scale', 'ingestion_worker', data_dir, output_dir)
    finally:
      shutil.rmtree(output_dir, ignore_errors=True)
    rows.append([label, images, result['seconds'], result['imported_mb'], result['peak_mb']])
  common.table(['data', 'train images', 'executor s', 'MB after imports', 'peak MB'], rows)
  common.save('scale_ingestion', {'rows': rows})


def bench_pipeline(real_dir):
  common.header(f'Scale: the pipeline (1 epoch, defaults) on 1x and {COPIES}x the training images')
  generation = make_scaled_data(real_dir)
  print(f'{COPIES}x data: {"generated in %.0f s" % generation if generation else "reused"} '
        f'({SCALED_DIR})\n', flush=True)
  runs = {}
  for label, data_dir, images in (('1x', real_dir, 60000), (f'{COPIES}x', SCALED_DIR, 60000 * COPIES)):
    wall, peak, stages, summary, children = run_pipeline(data_dir)
    runs[label] = {'images': images, 'wall_s': wall, 'peak_mb': peak, 'stages': stages,
                   'children_mb': children, 'summary': summary}
    print(f'{label}: {wall:.0f} s, peak {peak:.0f} MB', flush=True)
    common.save('scale', {'generation_s': generation, 'runs': runs})  # kept if the next run fails
  small, large = runs['1x'], runs[f'{COPIES}x']
  common.table(['run', 'train images', 'wall s', 'peak MB'],
               [[label, r['images'], r['wall_s'], r['peak_mb']] for label, r in runs.items()])
  print()
  common.table(['stage', '1x s', '1x peak MB', f'{COPIES}x s', f'{COPIES}x peak MB', 'time ratio'],
               [[a[0], a[1], a[2], b[1], b[2], f'{b[1] / a[1]:.1f}x' if a[1] else '']
                for a, b in zip(small['stages'], large['stages'])])
  print(f'\n{COPIES}x data: {large["wall_s"] / small["wall_s"]:.2f}x the wall time (goal <= '
        f'{COPIES}x), {large["peak_mb"] / small["peak_mb"]:.2f}x the peak memory (goal <= 1.5x).')
  for label, r in runs.items():
    print(f'{label}: child processes (MB, included above): {r["children_mb"] or "none"}')


def main():
  if sys.argv[1:2] == ['ingestion_worker']:
    ingestion_worker(*sys.argv[2:4])
    return
  from components.ingestion import idx  # pylint: disable=g-import-not-at-top
  real_dir = idx.resolve_data_dir()
  if sys.argv[1:2] == ['ingestion']:
    make_scaled_data(real_dir)
    bench_ingestion(real_dir)
  else:
    bench_pipeline(real_dir)


if __name__ == '__main__':
  main()
