"""One writer at a time for a local directory: an OS file lock that names its holder.

The lock is fcntl.flock on a lock file that holds the holder's pid. The kernel
drops it when the holding process dies, however it dies (kill -9 included), so
a lock is never stale: the file may remain with a dead pid in it, but nobody
holds it. flock locks belong to an open file, not to a process, so two threads
of one process that each take the lock exclude each other too.

Local file systems only: an object store (gs://, s3://) has no such lock.
"""
import contextlib
import fcntl
import os
import time

LOCK_FILE = '.lock'
_POLL_SECONDS = 0.05


class Busy(RuntimeError):
  """Another live process holds the lock."""


def _holder(fd):
  os.lseek(fd, 0, os.SEEK_SET)
  return os.read(fd, 64).decode(errors='replace').strip() or 'unknown'


@contextlib.contextmanager
def pid_lock(lock_path, what, wait_seconds=0):
  """Holds an exclusive lock on lock_path while the block runs.

  Args:
    lock_path: the lock file; created if absent, never deleted.
    what: what the lock protects, for the message (e.g. the directory).
    wait_seconds: how long to wait for a holder to finish; 0 refuses at once.

  Raises:
    Busy: "another run (pid N) is using <what>" when still held after waiting.
  """
  fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
  try:
    deadline = time.monotonic() + wait_seconds
    while True:
      try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        break
      except BlockingIOError:
        if time.monotonic() >= deadline:
          waited = f' (waited {wait_seconds:g} s)' if wait_seconds else ''
          raise Busy(f'another run (pid {_holder(fd)}) is using {what}{waited}') from None
        time.sleep(_POLL_SECONDS)
    os.ftruncate(fd, 0)
    os.pwrite(fd, f'{os.getpid()}\n'.encode(), 0)
    yield
  finally:
    os.close(fd)  # releases the lock
