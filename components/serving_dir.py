"""Pure core of deployment: the versioned serving directory, safe to share.

Layout: <serving_dir>/<version>/ holds a SavedModel and PUSH_METADATA. The
version is a unix timestamp in seconds, so names sort by push time, and an
existing version is never replaced.

PUSH_METADATA is the completion marker: it is written last, and readers
(versions(), latest_version()) skip a version without it, with a warning.
publish() is the only writer:

  1. it stages the model under a hidden name (.tmp-...), which neither TF
     Serving (it loads numeric directory names only) nor the readers look at;
  2. in a critical section, an OS file lock locally and a lease object on an
     object store, it compares the newest version with the one the run
     compared against (compare-and-swap) and, if unchanged, moves the staged
     model into a new version: locally one atomic directory rename; on an
     object store, where renaming a directory copies each object in name
     order, one object at a time with saved_model.pb after every other model
     file and PUSH_METADATA last.

TF Serving aspires a numbered directory as soon as any object of it exists and
fails to load it (then retries) until saved_model.pb exists, so with that order
it never loads a partial model. docs/deployment_safety.md has the sources.
"""
import contextlib
import errno
import json
import os
import random
import socket
import time

from absl import logging
from google.protobuf import message
import tensorflow as tf
from tensorflow.core.protobuf import saved_model_pb2

from components import features
from components import locks

gfile = tf.io.gfile  # a module attribute, so that tests can stand in an object store

PUSH_METADATA = 'push_metadata.json'  # the completion marker
SAVED_MODEL_PB = 'saved_model.pb'
VARIABLES_INDEX = os.path.join('variables', 'variables.index')
SERVING_TAG = 'serve'

LOCK_WAIT_SECONDS = 600  # how long a pusher waits for another one before failing
LEASE_SECONDS = 120  # an object-store lease this old belongs to a dead pusher
STAGING_MAX_AGE_SECONDS = 24 * 3600  # no live pusher stages for this long

_STAGING_PREFIX = '.tmp-'
_LEASE_PREFIX = '.push-'
_LOCK_FILE = '.push.lock'


class DeploymentChanged(Exception):
  """The newest version is no longer the one the run compared against."""


class BrokenVersion(ValueError):
  """A model directory is not a SavedModel that TF Serving can serve."""


class DiskFull(OSError):
  """No space left while writing a version; nothing was published."""


def is_local(path):
  """False for object stores (gs://, s3://, ...): no file locks, no atomic rename."""
  return '://' not in path


def _numbered(serving_dir):
  """Every version directory name, complete or not."""
  if not gfile.isdir(serving_dir):
    return []
  names = (n.rstrip('/') for n in gfile.listdir(serving_dir))
  return [n for n in names if n.isdigit()]


def _with_marker(serving_dir, names):
  """The names among `names` whose directory holds PUSH_METADATA."""
  if not names:
    return set()
  if any(c in serving_dir for c in '*?[]\\'):  # glob would read the path as a pattern
    return {n for n in names if gfile.exists(os.path.join(serving_dir, n, PUSH_METADATA))}
  # One listing, where an object store needs a request per exists().
  markers = gfile.glob(os.path.join(serving_dir, '*', PUSH_METADATA))
  return {os.path.basename(os.path.dirname(m.rstrip('/'))) for m in markers}


def versions(serving_dir):
  """Complete versions in serving_dir, oldest first.

  A numbered directory without PUSH_METADATA is skipped with a warning: a push
  was interrupted, is still copying, or the directory was not made here.
  """
  numbered = _numbered(serving_dir)
  complete = _with_marker(serving_dir, numbered)
  for name in sorted(set(numbered) - complete, key=int):
    logging.warning('Ignoring incomplete version %s: it has no %s (a push was interrupted '
                    'or is running now); delete it if no push is running.',
                    os.path.join(serving_dir, name), PUSH_METADATA)
  return sorted((n for n in numbered if n in complete), key=int)


def latest_version(serving_dir):
  found = versions(serving_dir)
  return found[-1] if found else None


def read_push_metadata(version_dir):
  path = os.path.join(version_dir, PUSH_METADATA)
  if not gfile.exists(path):
    return {}
  with gfile.GFile(path) as f:
    return json.load(f)


def check_deployable(model_dir):
  """Raises BrokenVersion, naming model_dir, unless TF Serving can serve it.

  Reads saved_model.pb only (about 10 ms for this project's models, where
  tf.saved_model.load takes 0.4-1.5 s): it must parse, have a MetaGraph tagged
  'serve' whose 'serving_default' signature takes 'images', and the variables
  index must exist. The variables' values are not read.
  """
  def broken(why):
    return BrokenVersion(f'{model_dir} is not a deployable SavedModel: {why}')

  pb_path = os.path.join(model_dir, SAVED_MODEL_PB)
  if not gfile.exists(pb_path):
    raise broken(f'it has no {SAVED_MODEL_PB}')
  saved_model = saved_model_pb2.SavedModel()
  try:
    with gfile.GFile(pb_path, 'rb') as f:
      saved_model.ParseFromString(f.read())
  except message.DecodeError as e:
    raise broken(f'{SAVED_MODEL_PB} does not parse (truncated or corrupt): {e}') from e
  graphs = [g for g in saved_model.meta_graphs if SERVING_TAG in g.meta_info_def.tags]
  if not graphs:
    raise broken(f"no MetaGraph is tagged '{SERVING_TAG}'")
  if features.SERVING_SIGNATURE not in graphs[0].signature_def:
    raise broken(f"it has no '{features.SERVING_SIGNATURE}' signature")
  inputs = graphs[0].signature_def[features.SERVING_SIGNATURE].inputs
  if features.SERVING_INPUT_KEY not in inputs:
    raise broken(f"its '{features.SERVING_SIGNATURE}' signature takes {sorted(inputs)}, "
                 f"not '{features.SERVING_INPUT_KEY}'")
  if not gfile.exists(os.path.join(model_dir, VARIABLES_INDEX)):
    raise broken(f'it has no {VARIABLES_INDEX}')


def _loader_safe_order(model_dir):
  """Every file under model_dir, the top saved_model.pb last: see the module doc."""
  files = [os.path.join(dirpath, name)
           for dirpath, _, names in gfile.walk(model_dir) for name in names]
  top_pb = os.path.join(model_dir, SAVED_MODEL_PB)
  return sorted(files, key=lambda path: (path == top_pb, path))


def _make_dirs_like(src, dst):
  for dirpath, _, _ in gfile.walk(src):
    gfile.makedirs(os.path.join(dst, os.path.relpath(dirpath, src)))


def copy_tree(src, dst):
  """Copies the model tree src to dst, saved_model.pb last."""
  _make_dirs_like(src, dst)
  for path in _loader_safe_order(src):
    gfile.copy(path, os.path.join(dst, os.path.relpath(path, src)))


def replace_tree(src, dst):
  """copy_tree to dst, deleting whatever dst held first.

  For a component's output: a retried execution (Kubeflow retries a task
  with the same output URIs) finds the failed attempt's copy, whole or
  partial, where copy_tree would refuse to overwrite a file.
  """
  if gfile.exists(dst):
    gfile.rmtree(dst)
  copy_tree(src, dst)


def _write_json(path, data):
  with gfile.GFile(path, 'w') as f:
    json.dump(data, f, indent=2)


# Staging directories and leases are named after their writer:
# <prefix><unix start>-<pid>-<nonce>-<host>; older staging names were
# .tmp-<version>-<pid>, and the version was the start time.
def _writer_name(prefix, now):
  return f'{prefix}{int(now())}-{os.getpid()}-{random.getrandbits(32):08x}-{socket.gethostname()}'


def _writer(name, prefix):
  """(start, pid, host or None) of a writer-named entry, or None if not one."""
  if not name.startswith(prefix):
    return None
  fields = name.rstrip('/')[len(prefix):].split('-', 3)
  if len(fields) not in (2, 4) or not (fields[0].isdigit() and fields[1].isdigit()):
    return None
  return int(fields[0]), int(fields[1]), fields[3] if len(fields) == 4 else None


def _pid_alive(pid):
  try:
    os.kill(pid, 0)
  except ProcessLookupError:
    return False
  except PermissionError:
    return True
  return True


def _writer_is_dead(writer, now, max_age_seconds):
  """Dead when older than max_age_seconds, or when it ran on this host and has exited.

  A reused pid only makes it look alive until the age limit.
  """
  started, pid, host = writer
  if now() - started > max_age_seconds:
    return True
  return host == socket.gethostname() and not _pid_alive(pid)


def _remove_dead_staging(serving_dir, now):
  for name in gfile.listdir(serving_dir):
    writer = _writer(name, _STAGING_PREFIX)
    if writer and _writer_is_dead(writer, now, STAGING_MAX_AGE_SECONDS):
      logging.info('Removing the staging directory of a dead push: %s', name)
      gfile.rmtree(os.path.join(serving_dir, name.rstrip('/')))


def _live_leases(serving_dir, now, mine):
  """Leases of other pushers; those of dead pushers are deleted."""
  live = []
  for name in gfile.listdir(serving_dir):
    name = name.rstrip('/')
    writer = _writer(name, _LEASE_PREFIX)
    if writer is None or name == mine:
      continue
    if _writer_is_dead(writer, now, LEASE_SECONDS):
      logging.warning('Deleting the push lease %s of a dead pusher.', name)
      with contextlib.suppress(tf.errors.NotFoundError):
        gfile.remove(os.path.join(serving_dir, name))
    else:
      live.append(name)
  return live


@contextlib.contextmanager
def _object_store_lease(serving_dir, now):
  """Mutual exclusion on an object store whose listing is strongly consistent.

  A pusher writes its own lease object, then lists the others' and proceeds
  only if there is no live one; otherwise it deletes its own, waits a random
  while and tries again. Of two pushers, the one that lists last sees the
  other's lease, so at most one proceeds. A lease older than LEASE_SECONDS
  (by its writer's clock), or written on this host by an exited process, is
  a dead pusher's and is deleted.
  """
  deadline = time.monotonic() + LOCK_WAIT_SECONDS
  while True:
    mine = _writer_name(_LEASE_PREFIX, now)
    _write_json(os.path.join(serving_dir, mine), {})
    others = _live_leases(serving_dir, now, mine)
    if not others:
      break
    gfile.remove(os.path.join(serving_dir, mine))
    if time.monotonic() > deadline:
      raise locks.Busy(f'another push ({others[0]}) is using {serving_dir} '
                       f'(waited {LOCK_WAIT_SECONDS} s)')
    time.sleep(random.uniform(0.05, 0.5))
  try:
    yield
  finally:
    gfile.remove(os.path.join(serving_dir, mine))


def _one_pusher_at_a_time(serving_dir, now):
  if is_local(serving_dir):
    return locks.pid_lock(os.path.join(serving_dir, _LOCK_FILE), serving_dir,
                          wait_seconds=LOCK_WAIT_SECONDS)
  return _object_store_lease(serving_dir, now)


def _next_version(serving_dir, now):
  """The current time, or one past the highest version directory, complete or not."""
  return max([int(now())] + [int(n) + 1 for n in _numbered(serving_dir)])


def _move_into_place(staging, final, metadata):
  """Turns the staged model into version `final`, PUSH_METADATA last."""
  if is_local(final):
    _write_json(os.path.join(staging, PUSH_METADATA), metadata)
    gfile.rename(staging, final, overwrite=False)
    return
  try:
    _make_dirs_like(staging, final)
    for path in _loader_safe_order(staging):
      gfile.rename(path, os.path.join(final, os.path.relpath(path, staging)), overwrite=False)
    _write_json(os.path.join(final, PUSH_METADATA), metadata)
  except Exception:
    try:
      gfile.rmtree(final)
    except tf.errors.OpError as e:
      logging.warning('Could not delete the partial version %s: %s', final, e)
    raise


def _is_disk_full(error):
  # Python reports ENOSPC as OSError; tf.io.gfile as ResourceExhaustedError.
  return ((isinstance(error, OSError) and error.errno == errno.ENOSPC) or
          (isinstance(error, tf.errors.ResourceExhaustedError) and
           'No space left on device' in str(error)))


def publish(model_dir, serving_dir, metadata, compared_with, now=time.time):
  """Publishes model_dir as a new version if the deployment is still `compared_with`.

  The check and the publication are one critical section (see the module doc).

  Args:
    model_dir: the candidate SavedModel; checked with check_deployable first.
    serving_dir: a local directory or an object-store URI (gs://, s3://).
    metadata: JSON-able dict for PUSH_METADATA (model_uri, model_id);
      'version' is added.
    compared_with: the version the Evaluator compared against; '' or None for
      none deployed.
    now: the clock, for tests.

  Returns:
    The new version's directory.

  Raises:
    DeploymentChanged: the newest version is not `compared_with`; the message
      is the reason to record. Nothing was written.
    BrokenVersion: the candidate or the newest deployed version is not
      deployable; the message names its path.
    DiskFull: the disk filled up; nothing was published.
    locks.Busy: another pusher held the directory for LOCK_WAIT_SECONDS.
  """
  compared_with = compared_with or None
  check_deployable(model_dir)
  try:
    gfile.makedirs(serving_dir)
    staging = os.path.join(serving_dir, _writer_name(_STAGING_PREFIX, now))
    try:
      copy_tree(model_dir, staging)
      with _one_pusher_at_a_time(serving_dir, now):
        _remove_dead_staging(serving_dir, now)
        latest = latest_version(serving_dir)
        if latest != compared_with:
          raise DeploymentChanged(
              f'deployment changed during the run: compared with {compared_with or "none"}, '
              f'now {latest or "none"}; run again')
        if latest is not None:
          check_deployable(os.path.join(serving_dir, latest))
        version = _next_version(serving_dir, now)
        final = os.path.join(serving_dir, str(version))
        _move_into_place(staging, final, dict(metadata, version=str(version)))
        return final
    finally:
      if gfile.exists(staging):
        gfile.rmtree(staging)
  except Exception as e:  # pylint: disable=broad-except
    if _is_disk_full(e):
      raise DiskFull(f'disk is full: no space left for a new version in {serving_dir}; '
                     'nothing was published (free space, then run again)') from e
    raise
