"""Shared by the benchmarks: real data, workers in subprocesses, tables."""
import json
import os
import subprocess
import sys
import tempfile
import time
import warnings

warnings.filterwarnings('ignore', category=FutureWarning)
os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT_DIR = os.path.join(ROOT, 'bench', 'out')
RESULT_MARK = 'BENCH_RESULT '


def real_images(split, limit=None):
  """(images float32 [n, 28, 28, 1] in [0, 1], ids), scaled as the tutorial does."""
  from components.ingestion import idx  # pylint: disable=g-import-not-at-top
  from components.noise import noise  # pylint: disable=g-import-not-at-top
  images, _ = idx.load_split(idx.resolve_data_dir(), split)
  images = images[:limit]
  ids = [idx.example_id(split, i).encode() for i in range(len(images))]
  return noise.to_unit_float(images)[..., None], ids


def report(result):
  """Called in a worker: hands its result, with its peak memory, to the parent."""
  import resource  # pylint: disable=g-import-not-at-top
  result['peak_mb'] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
  print(RESULT_MARK + json.dumps(result), flush=True)


def timed_process(argv):
  """Runs a command; returns (wall seconds, peak memory MB of that process, stdout)."""
  env = dict(os.environ, PYTHONPATH=ROOT)
  start = time.monotonic()
  with tempfile.TemporaryFile('w+') as out, tempfile.TemporaryFile('w+') as err:
    proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=out, stderr=err, text=True)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.monotonic() - start
    out.seek(0)
    err.seek(0)
    if os.waitstatus_to_exitcode(status) != 0:
      raise RuntimeError(f'{argv} failed:\n{err.read()[-3000:]}')
    return wall, usage.ru_maxrss / 1024, out.read()


def run_worker(module, *args):
  """Runs `python -m module args` in a fresh process; returns what it reported."""
  _, _, stdout = timed_process([sys.executable, '-m', module, *map(str, args)])
  return parse_result(stdout)


def parse_result(stdout):
  """The result a worker printed with report()."""
  for line in stdout.splitlines():
    if line.startswith(RESULT_MARK):
      return json.loads(line[len(RESULT_MARK):])
  raise RuntimeError('the worker reported nothing')


def table(headers, rows):
  """A Markdown table, printed and returned."""
  lines = ['| ' + ' | '.join(headers) + ' |', '|' + '---|' * len(headers)]
  def cell(value):
    if not isinstance(value, float):
      return str(value)
    return f'{value:,.0f}' if abs(value) >= 1000 else f'{value:.4g}'

  for row in rows:
    lines.append('| ' + ' | '.join(cell(v) for v in row) + ' |')
  text = '\n'.join(lines)
  print(text, flush=True)
  return text


def save(name, data):
  os.makedirs(OUT_DIR, exist_ok=True)
  with open(os.path.join(OUT_DIR, f'{name}.json'), 'w') as f:
    json.dump(data, f, indent=2)


def header(title):
  import platform  # pylint: disable=g-import-not-at-top
  print(f'## {title}\n{time.strftime("%Y-%m-%d")}, {platform.node()}, {os.cpu_count()} cores, '
        f'Python {platform.python_version()}\n', flush=True)
