"""What a person sees during a local run: a short console, and a log file that gets everything else.

TensorFlow's C++ start-up messages, absl, Beam and TFMA all write to file descriptors 1 and 2, some before Python's logging exists.
divert_to_log() points both descriptors at the log file for the rest of the
process, so all of that lands there, and keeps duplicates of the original
ones for the console: the lines the runner prints through it, Keras'
per-epoch lines and the warnings this project's code logs.

No TensorFlow here: the runner diverts before importing it.
"""
import contextlib
import logging
import os
import re
import sys

PROJECT_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# tf_keras' fit(verbose=2) prints 'Epoch 3/10' (when epochs > 1), then at the
# end of the epoch '1875/1875 - 12s - loss: 0.0101 - val_loss: 0.0098 - ...'.
KERAS_EPOCH_START = re.compile(r'Epoch \d+/\d+')
KERAS_EPOCH_END = re.compile(r'\d+/\d+ - .*\bloss: ')


def is_project_code(path):
  """Whether a source file is this project's (its virtualenv's packages are not)."""
  relative = os.path.relpath(os.path.abspath(path), PROJECT_ROOT)
  return not relative.startswith('.') and 'site-packages' not in relative.split(os.sep)


class Console:
  """The terminal the run started on, for the lines a person should see."""

  def __init__(self, out, err):
    self.out = out
    self.err = err

  def print(self, text, flush=True):
    """print(text, flush=...) onto the console's stdout: the runner's `echo`."""
    self.out.write(f'{text}\n')
    if flush:
      self.out.flush()

  @contextlib.contextmanager
  def stderr_shown(self):
    """sys.stderr onto the console for a while, e.g. a download's progress bar."""
    diverted, sys.stderr = sys.stderr, self.err
    try:
      yield
    finally:
      sys.stderr = diverted


class KerasEpochEcho:
  """sys.stdout of a diverted run: every write to the log, Keras' epoch lines also to the console.

  Keras writes its progress through sys.stdout, in pieces; a finished epoch
  is echoed as one line, 'Epoch 3/10: 1875/1875 - 12s - loss: ...'.
  """

  def __init__(self, log, console):
    self._log = log            # the original sys.stdout: its descriptor is the log's now
    self._console = console
    self._partial = ''
    self._epoch = None

  def write(self, text):
    self._log.write(text)
    *lines, self._partial = (self._partial + text).split('\n')
    for line in lines:
      self._echo_if_epoch(line.strip())
    if lines:
      self._log.flush()
    return len(text)

  def _echo_if_epoch(self, line):
    if KERAS_EPOCH_START.fullmatch(line):
      self._epoch = line
    elif KERAS_EPOCH_END.match(line):
      self._console.print(f'  {self._epoch}: {line}' if self._epoch else f'  {line}')
      self._epoch = None

  def flush(self):
    self._log.flush()

  def isatty(self):
    return False

  def __getattr__(self, name):  # fileno, encoding, buffer, ...: the log's
    return getattr(self._log, name)


def project_warnings_handler(stream):
  """Warnings and errors that this project's code logs, onto the console."""
  handler = logging.StreamHandler(stream)
  handler.setLevel(logging.WARNING)
  handler.setFormatter(logging.Formatter('%(levelname)s: %(message)s'))
  handler.addFilter(lambda record: is_project_code(record.pathname))
  return handler


def divert_to_log(log_path):
  """Sends descriptors 1 and 2 into log_path from now on; returns the Console on the original ones.

  An exception that ends the process is still named on the console, its
  traceback in the log.
  """
  os.makedirs(os.path.dirname(log_path), exist_ok=True)
  sys.stdout.flush()
  sys.stderr.flush()
  console = Console(os.fdopen(os.dup(1), 'w', buffering=1),
                    os.fdopen(os.dup(2), 'w', buffering=1))
  log_fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
  os.dup2(log_fd, 1)
  os.dup2(log_fd, 2)
  os.close(log_fd)
  sys.stdout = KerasEpochEcho(sys.stdout, console)
  logging.getLogger().addHandler(project_warnings_handler(console.err))

  def name_the_exception_on_the_console(kind, value, traceback):
    sys.__excepthook__(kind, value, traceback)  # into the log
    what = 'interrupted' if kind is KeyboardInterrupt else f'{kind.__name__}: {value}'
    console.err.write(f'error: {what} (log: {log_path})\n')
    console.err.flush()

  sys.excepthook = name_the_exception_on_the_console
  return console


def undiverted():
  """The Console of a run that prints everything (--verbose): the process's own streams."""
  return Console(sys.stdout, sys.stderr)
