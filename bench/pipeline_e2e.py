"""The full local pipeline vs the tutorial's script, on the same machine, in one run.

  python -m bench.pipeline_e2e [-- extra local_runner.py flags, e.g. --epochs=1]

Both run as fresh processes (start-up included): local_runner.py with the
defaults and a new --output_dir, then bench/tutorial.py. Reports wall time, peak
memory, PSNR and SSIM of each, and the pipeline's per-component times.
"""
import json
import os
import shutil
import sys
import tempfile

from bench import common


def main():
  extra = [a for a in sys.argv[1:] if a != '--']
  common.header('End to end: local pipeline (defaults) vs the tutorial script')
  output_dir = tempfile.mkdtemp(prefix='e2e-')
  try:
    wall, peak, _ = common.timed_process(
        [sys.executable, 'local_runner.py', f'--output_dir={output_dir}', *extra])
    with open(os.path.join(output_dir, 'run_summary.json')) as f:
      summary = json.load(f)
  finally:
    shutil.rmtree(output_dir, ignore_errors=True)
  epochs = [a.split('=', 1)[1] for a in extra if a.startswith('--epochs=')] or ['10']
  limits = {a.split('=')[0]: a.split('=')[1] for a in extra
            if a.startswith(('--train_examples=', '--eval_examples='))}
  tutorial_args = ['--epochs', epochs[0]]
  if int(limits.get('--train_examples', 0)):
    tutorial_args += ['--train', limits['--train_examples']]
  if int(limits.get('--eval_examples', 0)):
    tutorial_args += ['--eval', limits['--eval_examples']]
  tutorial_wall, tutorial_peak, stdout = common.timed_process(
      [sys.executable, '-m', 'bench.tutorial', *tutorial_args])
  tutorial_result = common.parse_result(stdout)

  m = summary['metrics']
  rows = [['pipeline (local_runner.py)', wall, peak, m['psnr'], m['ssim'],
           'blessed' if summary['blessed'] else 'not blessed'],
          ['tutorial script', tutorial_wall, tutorial_peak, tutorial_result['psnr'],
           tutorial_result['ssim'], '']]
  common.table(['run', 'wall s', 'peak MB', 'PSNR dB', 'SSIM', ''], rows)
  print(f'\nwall time ratio: {wall / tutorial_wall:.2f}x (goal <= 1.0x); '
        f'PSNR difference: {m["psnr"] - tutorial_result["psnr"]:+.2f} dB (goal within 0.3)\n')
  common.table(['component', 'state', 'seconds', 'share of wall time'],
               [[c['id'], c['state'], c['seconds'], f'{100 * c["seconds"] / wall:.1f}%']
                for c in summary['components']])
  in_components = sum(c['seconds'] for c in summary['components'])
  print(f'\noutside components (start-up, imports, summary): {wall - in_components:.1f} s')
  common.save('pipeline_e2e', {'pipeline': {'wall_s': wall, 'peak_mb': peak, 'summary': summary},
                               'tutorial': dict(tutorial_result, wall_s=tutorial_wall,
                                                peak_mb=tutorial_peak)})


if __name__ == '__main__':
  main()
