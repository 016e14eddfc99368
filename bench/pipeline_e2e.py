"""The full local pipeline vs the tutorial's script, on the same machine, in one run.

  python -m bench.pipeline_e2e [--rounds=N] [-- extra local_runner.py flags, e.g. --epochs=1]

Both run as fresh processes (start-up included): local_runner.py with the
defaults and a new --output_dir, and bench/tutorial.py. Each round runs both,
the side that goes first alternating (pipeline first in odd rounds), so that
a slow spell of the machine does not always fall on the same side. Reports
each round's wall time, peak memory, PSNR and SSIM of each side and the
pipeline's per-component times, then the ratio of the summed wall times.
"""
import json
import os
import shutil
import sys
import tempfile

from bench import common


def run_pipeline(extra):
  """(wall s, peak MB, run summary) of local_runner.py in a fresh output dir."""
  output_dir = tempfile.mkdtemp(prefix='e2e-')
  try:
    wall, peak, _ = common.timed_process(
        [sys.executable, 'local_runner.py', f'--output_dir={output_dir}', *extra])
    with open(os.path.join(output_dir, 'run_summary.json')) as f:
      return wall, peak, json.load(f)
  finally:
    shutil.rmtree(output_dir, ignore_errors=True)


def run_tutorial(extra):
  """(wall s, peak MB, result) of bench/tutorial.py with the same epochs and data limits."""
  epochs = [a.split('=', 1)[1] for a in extra if a.startswith('--epochs=')] or ['10']
  limits = {a.split('=')[0]: a.split('=')[1] for a in extra
            if a.startswith(('--train_examples=', '--eval_examples='))}
  args = ['--epochs', epochs[0]]
  if int(limits.get('--train_examples', 0)):
    args += ['--train', limits['--train_examples']]
  if int(limits.get('--eval_examples', 0)):
    args += ['--eval', limits['--eval_examples']]
  wall, peak, stdout = common.timed_process([sys.executable, '-m', 'bench.tutorial', *args])
  return wall, peak, common.parse_result(stdout)


def report_round(number, pipeline, tutorial):
  (wall, peak, summary), (tutorial_wall, tutorial_peak, tutorial_result) = pipeline, tutorial
  m = summary['metrics']
  print(f'\n### Round {number} ({"pipeline" if number % 2 else "tutorial"} first)\n')
  common.table(['run', 'wall s', 'peak MB', 'PSNR dB', 'SSIM', ''], [
      ['pipeline (local_runner.py)', wall, peak, m['psnr'], m['ssim'],
       'blessed' if summary['blessed'] else 'not blessed'],
      ['tutorial script', tutorial_wall, tutorial_peak, tutorial_result['psnr'],
       tutorial_result['ssim'], '']])
  print(f'\nwall time ratio: {wall / tutorial_wall:.2f}x (goal <= 1.0x); PSNR difference: '
        f'{m["psnr"] - tutorial_result["psnr"]:+.2f} dB (goal within 0.3)\n')
  common.table(['component', 'state', 'seconds', 'share of wall time'],
               [[c['id'], c['state'], c['seconds'], f'{100 * c["seconds"] / wall:.1f}%']
                for c in summary['components']])
  in_components = sum(c['seconds'] for c in summary['components'])
  print(f'\noutside components (start-up, imports, summary): {wall - in_components:.1f} s')


def main():
  args = [a for a in sys.argv[1:] if a != '--']
  rounds = int(next((a.split('=', 1)[1] for a in args if a.startswith('--rounds=')), 1))
  extra = [a for a in args if not a.startswith('--rounds=')]
  common.header('End to end: local pipeline (defaults) vs the tutorial script')
  results = []
  for number in range(1, rounds + 1):
    if number % 2:
      pipeline = run_pipeline(extra)
      tutorial = run_tutorial(extra)
    else:
      tutorial = run_tutorial(extra)
      pipeline = run_pipeline(extra)
    report_round(number, pipeline, tutorial)
    results.append({'pipeline': {'wall_s': pipeline[0], 'peak_mb': pipeline[1],
                                 'summary': pipeline[2]},
                    'tutorial': dict(tutorial[2], wall_s=tutorial[0], peak_mb=tutorial[1])})
  pipeline_s = sum(r['pipeline']['wall_s'] for r in results)
  tutorial_s = sum(r['tutorial']['wall_s'] for r in results)
  print(f'\n{rounds} round(s): pipeline {pipeline_s:.1f} s, tutorial {tutorial_s:.1f} s in all: '
        f'{pipeline_s / tutorial_s:.2f}x')
  common.save('pipeline_e2e', {'rounds': results})


if __name__ == '__main__':
  main()
