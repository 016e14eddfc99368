"""What an executor does with its output URIs before writing: a retried execution starts empty.

Kubeflow Pipelines retries a task's executor with the same ExecutorInput, so
the same output URIs, where the failed (or finished) attempt left its files.
"""
import tensorflow as tf


def empty_output_dir(directory):
  """Makes directory an empty directory before a writer fills it.

  A retried execution (Kubeflow retries a task with the same output URIs)
  finds what the failed attempt wrote: shards of another count, which
  Beam's sink does not overwrite, its beam-temp-* directory, or another
  decision's marker file. Its output must replace them, not join them.
  """
  if tf.io.gfile.exists(directory):
    tf.io.gfile.rmtree(directory)
  tf.io.gfile.makedirs(directory)
