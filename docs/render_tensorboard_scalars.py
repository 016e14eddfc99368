"""Draws the scalars TensorBoard shows for a run's Trainer logs, for docs/running_locally.md (tensorboard_scalars.png).

  python docs/render_tensorboard_scalars.py <Trainer model_run dir> docs/tensorboard_scalars.png

Reads the event files tf_keras' TensorBoard callback wrote under train/ and
validation/, as TensorBoard does, and plots each tag with its runs.
"""
import os
import sys

import matplotlib

matplotlib.use('Agg')
import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
from matplotlib import ticker  # pylint: disable=g-import-not-at-top
from tensorboard.backend.event_processing import event_accumulator
from tensorboard.util import tensor_util

RUNS = ('train', 'validation')
RUN_COLORS = {'train': '#ef6c00', 'validation': '#0077bb'}  # TensorBoard's first two


def read_scalars(run_dir):
  """{tag: [(step, value)]} of the scalar summaries in one run directory."""
  events = event_accumulator.EventAccumulator(
      run_dir, size_guidance={event_accumulator.TENSORS: 0})
  events.Reload()
  return {tag: [(e.step, float(tensor_util.make_ndarray(e.tensor_proto)))
                for e in events.Tensors(tag)]
          for tag in events.Tags()['tensors']
          # TensorBoard's own test ('keras' holds the model's config, for Graphs).
          if events.SummaryMetadata(tag).plugin_data.plugin_name == 'scalars'}


def main(model_run_dir, png_path):
  by_run = {run: read_scalars(os.path.join(model_run_dir, run)) for run in RUNS}
  tags = sorted({tag for scalars in by_run.values() for tag in scalars})
  figure, axes = plt.subplots(1, len(tags), figsize=(4.2 * len(tags), 3), squeeze=False)
  for ax, tag in zip(axes[0], tags):
    for run in RUNS:
      if tag in by_run[run]:
        steps, values = zip(*by_run[run][tag])
        ax.plot(steps, values, marker='o', markersize=3, color=RUN_COLORS[run], label=run)
    ax.set_title(tag, fontsize=10)
    ax.set_xlabel('epoch' if tag.startswith('epoch_') else 'training step')
    ax.xaxis.set_major_locator(ticker.MaxNLocator(nbins=5, integer=True))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
  figure.tight_layout()
  figure.savefig(png_path, dpi=80)


if __name__ == '__main__':
  main(*sys.argv[1:])
