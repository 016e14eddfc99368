"""The command of every Kubeflow task: TFX's executor entrypoint, with s3:// and an exit that cannot abort.

Each task runs `python -m pipeline.container_entrypoint ARGS`, ARGS being those
of TFX's `python -m tfx.orchestration.kubeflow.v2.container.kubeflow_v2_run_executor`
(--executor_class_path, the ExecutorInput, Beam args), which runs here as
__main__. Importing tensorflow_io first registers s3:// with tf.io.gfile (AWS S3,
and MinIO through S3_ENDPOINT); Beam's stages reach s3:// through boto3.

tensorflow-io 0.37.1, the release built for TF 2.16, makes a process that used
s3:// abort in its C++ static destructors as it exits ("pure virtual method
called", status 134; tensorflow/io issue 2039, fixed after that release): after
the executor wrote its outputs and its ExecutorOutput, so KFP would mark a
finished task failed. Hence the exit with os._exit and the executor's own status,
which runs no destructors (nor atexit handlers: stdout and stderr are flushed first).
"""
import os
import runpy
import sys
import traceback

COMMAND = ('python', '-m', 'pipeline.container_entrypoint')
TFX_ENTRYPOINT = 'tfx.orchestration.kubeflow.v2.container.kubeflow_v2_run_executor'


def exit_status(code):
  """The status Python gives sys.exit(code): None is 0, a message is printed and is 1."""
  if code is None:
    return 0
  if isinstance(code, int):
    return code
  print(code, file=sys.stderr)
  return 1


def run_executor():
  """Runs TFX's entrypoint on sys.argv; returns its exit status."""
  try:
    import tensorflow_io  # pylint: disable=g-import-not-at-top,unused-import  # registers s3://
    runpy.run_module(TFX_ENTRYPOINT, run_name='__main__', alter_sys=True)
  except SystemExit as exit_:  # absl's app.run always leaves through sys.exit.
    return exit_status(exit_.code)
  except BaseException:  # pylint: disable=broad-except  # reported, and still no normal exit
    traceback.print_exc()
    return 1
  return 0


if __name__ == '__main__':
  status = run_executor()
  sys.stdout.flush()
  sys.stderr.flush()
  os._exit(status)  # pylint: disable=protected-access
