"""The serving directory: compare-and-swap pushes, complete versions, named failures."""
import errno
import json
import multiprocessing
import os
import queue
import re
import shutil
import socket
import subprocess
import sys
import threading
import time

import pytest
import tensorflow as tf

from components import locks
from components import serving_dir
from components.pusher import executor as pusher

# Forked children inherit the imported TensorFlow; spawned ones would import it
# again, which takes 10-30 s on these machines.
FORK = multiprocessing.get_context('fork')
CHANGED = 'deployment changed during the run: compared with {}, now {}; run again'


def _save_model(path, signature_key='serving_default', input_name='images'):
  """A tiny SavedModel shaped like the trainer's export: 'images' [None, 28, 28, 1]."""
  module = tf.Module()
  module.scale = tf.Variable(1.0)
  spec = tf.TensorSpec([None, 28, 28, 1], tf.float32, name=input_name)
  serve = tf.function(lambda x: {'denoised': x * module.scale}, input_signature=[spec])
  tf.saved_model.save(module, str(path), signatures={signature_key: serve})
  return str(path)


@pytest.fixture(scope='module')
def models(tmp_path_factory):
  root = tmp_path_factory.mktemp('models')
  return {
      'good': _save_model(root / 'good'),
      'other_signature': _save_model(root / 'other_signature', signature_key='predict'),
      'other_input': _save_model(root / 'other_input', input_name='x'),
  }


@pytest.fixture
def model(models, tmp_path):
  """A private copy of the good model, free to damage."""
  return str(shutil.copytree(models['good'], tmp_path / 'model'))


def _truncate_saved_model_pb(model_dir):
  path = os.path.join(model_dir, 'saved_model.pb')
  with open(path, 'rb') as f:
    data = f.read()
  with open(path, 'wb') as f:
    f.write(data[:len(data) // 2])


def _slow_latest_version(monkeypatch, seconds=0.3):
  """Widens the gap between reading the newest version and publishing."""
  real = serving_dir.latest_version

  def slow(path):
    found = real(path)
    time.sleep(seconds)
    return found

  monkeypatch.setattr(serving_dir, 'latest_version', slow)


def _race(model_dir, target, barrier, results):
  barrier.wait()
  try:
    results.put(('pushed', serving_dir.publish(model_dir, target, {}, compared_with=None)))
  except serving_dir.DeploymentChanged as e:
    results.put(('changed', str(e)))


def _race_threads(model_dir, target):
  barrier, results = threading.Barrier(2), queue.Queue()
  threads = [threading.Thread(target=_race, args=(model_dir, target, barrier, results))
             for _ in range(2)]
  for thread in threads:
    thread.start()
  for thread in threads:
    thread.join(60)
  return [results.get_nowait() for _ in threads]


def _assert_exactly_one_pushed(outcomes, target):
  assert sorted(kind for kind, _ in outcomes) == ['changed', 'pushed']
  [pushed] = [value for kind, value in outcomes if kind == 'pushed']
  [reason] = [value for kind, value in outcomes if kind == 'changed']
  version = os.path.basename(pushed)
  assert reason == CHANGED.format('none', version)
  assert serving_dir.versions(target) == [version]


def test_publish_creates_complete_sortable_versions(model, tmp_path):
  target = str(tmp_path / 'serving')
  first = serving_dir.publish(model, target, {'model_uri': 'a', 'model_id': 1}, None,
                              now=lambda: 1000)
  second = serving_dir.publish(model, target, {'model_uri': 'b', 'model_id': 2}, '1000',
                               now=lambda: 1000)  # same second
  assert (first, second) == (os.path.join(target, '1000'), os.path.join(target, '1001'))
  assert serving_dir.versions(target) == ['1000', '1001']
  assert serving_dir.read_push_metadata(first) == {'model_uri': 'a', 'model_id': 1,
                                                   'version': '1000'}
  assert os.path.isfile(os.path.join(second, 'variables', 'variables.index'))
  serving_dir.check_deployable(second)
  assert sorted(os.listdir(target)) == ['.push.lock', '1000', '1001']  # no staging left


def test_serving_dir_whose_path_looks_like_a_glob_pattern(model, tmp_path):
  target = str(tmp_path / 'serving[1]')
  serving_dir.publish(model, target, {}, None, now=lambda: 1000)
  assert serving_dir.versions(target) == ['1000']


@pytest.mark.parametrize('deployed, compared_with, shown', [
    (['1000'], None, 'none'),
    (['1000'], '', 'none'),
    (['1000', '1001'], '1000', '1000'),
])
def test_push_refused_when_the_deployment_changed_since_the_comparison(
    model, tmp_path, deployed, compared_with, shown):
  target = str(tmp_path / 'serving')
  for version in deployed:
    serving_dir.publish(model, target, {}, serving_dir.latest_version(target),
                        now=lambda v=version: int(v))
  with pytest.raises(serving_dir.DeploymentChanged) as refused:
    serving_dir.publish(model, target, {}, compared_with, now=lambda: 2000)
  assert str(refused.value) == CHANGED.format(shown, deployed[-1])
  assert sorted(os.listdir(target)) == sorted(['.push.lock'] + deployed)


def test_racing_threads_exactly_one_pushes(model, tmp_path, monkeypatch):
  target = str(tmp_path / 'serving')
  _slow_latest_version(monkeypatch)
  _assert_exactly_one_pushed(_race_threads(model, target), target)


def test_racing_processes_exactly_one_pushes(model, tmp_path, monkeypatch):
  target = str(tmp_path / 'serving')
  _slow_latest_version(monkeypatch)  # inherited by the forked pushers
  barrier, results = FORK.Barrier(2), FORK.Queue()
  processes = [FORK.Process(target=_race, args=(model, target, barrier, results))
               for _ in range(2)]
  for process in processes:
    process.start()
  outcomes = [results.get(timeout=60) for _ in processes]
  for process in processes:
    process.join(10)
  assert [p.exitcode for p in processes] == [0, 0]
  _assert_exactly_one_pushed(outcomes, target)


def _damage_by_truncating(models, version_dir):
  _truncate_saved_model_pb(version_dir)
  return 'saved_model.pb does not parse'


def _damage_by_other_signature(models, version_dir):
  shutil.copy(os.path.join(models['other_signature'], 'saved_model.pb'), version_dir)
  return "it has no 'serving_default' signature"


def _damage_by_other_input(models, version_dir):
  shutil.copy(os.path.join(models['other_input'], 'saved_model.pb'), version_dir)
  return "its 'serving_default' signature takes ['x'], not 'images'"


def _damage_by_removing_variables(models, version_dir):
  os.remove(os.path.join(version_dir, 'variables', 'variables.index'))
  return 'it has no variables/variables.index'


DAMAGES = [_damage_by_truncating, _damage_by_other_signature, _damage_by_other_input,
           _damage_by_removing_variables]


@pytest.mark.parametrize('damage', DAMAGES)
def test_broken_newest_version_is_named_and_nothing_is_pushed_next_to_it(
    models, model, tmp_path, damage):
  target = str(tmp_path / 'serving')
  newest = serving_dir.publish(model, target, {}, None, now=lambda: 1000)
  why = damage(models, newest)
  expected = f'{newest} is not a deployable SavedModel: {why}'
  with pytest.raises(serving_dir.BrokenVersion, match='^' + re.escape(expected)):
    serving_dir.check_deployable(newest)
  with pytest.raises(serving_dir.BrokenVersion, match='^' + re.escape(expected)):
    serving_dir.publish(model, target, {}, '1000', now=lambda: 2000)
  assert sorted(os.listdir(target)) == ['.push.lock', '1000']


@pytest.mark.parametrize('damage', DAMAGES)
def test_broken_candidate_is_named_and_nothing_is_written(models, model, tmp_path, damage):
  why = damage(models, model)
  target = tmp_path / 'serving'
  expected = f'{model} is not a deployable SavedModel: {why}'
  with pytest.raises(serving_dir.BrokenVersion, match='^' + re.escape(expected)):
    serving_dir.publish(model, str(target), {}, None, now=lambda: 1000)
  assert not target.exists()


def test_incomplete_version_is_absent_with_a_warning(model, tmp_path, caplog):
  target = tmp_path / 'serving'
  serving_dir.publish(model, str(target), {}, None, now=lambda: 1000)
  shutil.copytree(model, target / '2000')  # a model, but no push_metadata.json yet
  with caplog.at_level('WARNING'):
    assert serving_dir.versions(str(target)) == ['1000']
  assert f'Ignoring incomplete version {target / "2000"}' in caplog.text
  assert serving_dir.latest_version(str(target)) == '1000'
  # The next version is numbered past it, never into it.
  assert serving_dir.publish(model, str(target), {}, '1000', now=lambda: 1500) == str(
      target / '2001')


LOCK_HOLDER = """
import sys, time
from components import locks
with locks.pid_lock(sys.argv[1], 'the test directory'):
  print('locked', flush=True)
  time.sleep(600)
"""


def test_lock_of_a_live_process_refuses_naming_it_and_kill9_leaves_none(tmp_path):
  lock_path = str(tmp_path / '.lock')
  root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
  holder = subprocess.Popen([sys.executable, '-c', LOCK_HOLDER, lock_path],
                            stdout=subprocess.PIPE, text=True, cwd=root)
  try:
    assert holder.stdout.readline() == 'locked\n'
    with pytest.raises(locks.Busy) as refused:
      with locks.pid_lock(lock_path, str(tmp_path)):
        pass
    assert str(refused.value) == f'another run (pid {holder.pid}) is using {tmp_path}'
  finally:
    holder.kill()  # SIGKILL: no clean-up code runs
    holder.wait()
  assert open(lock_path).read() == f'{holder.pid}\n'  # the file stays, the lock does not
  started = time.monotonic()
  with locks.pid_lock(lock_path, str(tmp_path)):
    assert open(lock_path).read() == f'{os.getpid()}\n'
  assert time.monotonic() - started < 1


def test_waiting_lock_gets_it_when_the_holder_leaves(tmp_path):
  lock_path = str(tmp_path / '.lock')
  holding, release = threading.Event(), threading.Event()

  def hold():
    with locks.pid_lock(lock_path, 'x'):
      holding.set()
      release.wait(10)

  holder = threading.Thread(target=hold)
  holder.start()
  holding.wait(10)
  with pytest.raises(locks.Busy, match=r'\(waited 0.2 s\)$'):
    with locks.pid_lock(lock_path, 'x', wait_seconds=0.2):
      pass
  threading.Timer(0.2, release.set).start()
  with locks.pid_lock(lock_path, 'x', wait_seconds=10):
    assert release.is_set()
  holder.join(10)


def _exited_pid():
  return int(subprocess.run([sys.executable, '-c', 'import os; print(os.getpid())'],
                            capture_output=True, text=True, check=True).stdout)


def test_staging_of_dead_writers_is_cleaned_and_of_live_ones_kept(model, tmp_path):
  target = tmp_path / 'serving'
  host, now = socket.gethostname(), 1_000_000
  dead = [f'.tmp-{now}-{_exited_pid()}-00000001-{host}',  # exited, on this host
          f'.tmp-{now - 2 * 86400}-1-00000002-other-host',  # two days old
          f'.tmp-{now - 2 * 86400}-7']  # the previous naming, two days old
  live = [f'.tmp-{now}-{os.getpid()}-00000003-{host}',  # this process is alive
          f'.tmp-{now}-1-00000004-other-host',  # recent, on a host we cannot see
          '.tmp-not-a-writer']  # not ours to judge
  for name in dead + live:
    (target / name / 'variables').mkdir(parents=True)
  serving_dir.publish(model, str(target), {}, None, now=lambda: now)
  assert sorted(os.listdir(target)) == sorted(live + ['.push.lock', str(now)])


def _hang_in_critical_section(model_dir, target, entered):
  def hang(_):
    entered.set()
    time.sleep(600)

  serving_dir.latest_version = hang  # this forked child's copy only
  serving_dir.publish(model_dir, target, {}, compared_with=None)


def test_push_killed_inside_the_critical_section_then_the_same_push_completes(model, tmp_path):
  target = str(tmp_path / 'serving')
  entered = FORK.Event()
  child = FORK.Process(target=_hang_in_critical_section, args=(model, target, entered))
  child.start()
  try:
    assert entered.wait(60)
    [staging] = [n for n in os.listdir(target) if n.startswith('.tmp-')]
  finally:
    child.kill()
    child.join(10)
  assert f'-{child.pid}-' in staging
  started = time.monotonic()
  version_dir = serving_dir.publish(model, target, {}, compared_with=None)
  assert time.monotonic() - started < 5  # the dead child's lock did not hold us up
  assert sorted(os.listdir(target)) == ['.push.lock', os.path.basename(version_dir)]


class _FullGFile(tf.io.gfile.GFile):

  def write(self, data):
    raise tf.errors.ResourceExhaustedError(None, None, 'x; No space left on device')


def _fail_copy_with_enospc(monkeypatch):
  real_copy = tf.io.gfile.copy
  copies = []

  def copy_then_fail(src, dst, overwrite=False):
    copies.append(src)
    if len(copies) == 2:
      raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), dst)
    real_copy(src, dst, overwrite)

  monkeypatch.setattr(tf.io.gfile, 'copy', copy_then_fail)


def _fail_metadata_write_like_gfile(monkeypatch):
  monkeypatch.setattr(tf.io.gfile, 'GFile', _FullGFile)


@pytest.mark.parametrize('fill_disk, left', [
    (_fail_copy_with_enospc, []),  # while staging, before the lock
    (_fail_metadata_write_like_gfile, ['.push.lock']),  # the last write, in the lock
])
def test_full_disk_is_named_and_leaves_no_version(model, tmp_path, monkeypatch, fill_disk, left):
  target = str(tmp_path / 'serving')
  fill_disk(monkeypatch)
  with pytest.raises(serving_dir.DiskFull) as full:
    serving_dir.publish(model, target, {}, None, now=lambda: 1000)
  assert str(full.value) == (f'disk is full: no space left for a new version in {target}; '
                             'nothing was published (free space, then run again)')
  assert os.listdir(target) == left
  assert serving_dir.versions(target) == []


class FakeObjectStore:
  """tf.io.gfile for fake:// URIs over a local directory; records every object written.

  Directory renames are recorded apart: on gs:// and s3:// they copy one
  object at a time in name order, so publishing must never rely on one.
  """
  SCHEME = 'fake://'

  def __init__(self, root):
    self.root = str(root)
    self.written = []
    self.directory_renames = []

  def _local(self, path):
    return os.path.join(self.root, path[len(self.SCHEME):]) if path.startswith(
        self.SCHEME) else path

  def _uri(self, path):
    if path == self.root or path.startswith(self.root + os.sep):
      return self.SCHEME + os.path.relpath(path, self.root)
    return path

  def isdir(self, path):
    return tf.io.gfile.isdir(self._local(path))

  def exists(self, path):
    return tf.io.gfile.exists(self._local(path))

  def listdir(self, path):
    return tf.io.gfile.listdir(self._local(path))

  def glob(self, pattern):
    return [self._uri(p) for p in tf.io.gfile.glob(self._local(pattern))]

  def walk(self, top):
    for dirpath, subdirs, files in tf.io.gfile.walk(self._local(top)):
      yield self._uri(dirpath), subdirs, files

  def makedirs(self, path):
    tf.io.gfile.makedirs(self._local(path))

  def copy(self, src, dst, overwrite=False):
    self.written.append(dst)
    tf.io.gfile.copy(self._local(src), self._local(dst), overwrite)

  def rename(self, src, dst, overwrite=False):
    if self.isdir(src):
      self.directory_renames.append(src)
    self.written.append(dst)
    tf.io.gfile.rename(self._local(src), self._local(dst), overwrite)

  def GFile(self, path, mode='r'):  # pylint: disable=invalid-name
    if 'w' in mode:
      self.written.append(path)
    return tf.io.gfile.GFile(self._local(path), mode)

  def remove(self, path):
    tf.io.gfile.remove(self._local(path))

  def rmtree(self, path):
    tf.io.gfile.rmtree(self._local(path))


@pytest.fixture
def store(tmp_path, monkeypatch):
  fake = FakeObjectStore(tmp_path / 'bucket')
  monkeypatch.setattr(serving_dir, 'gfile', fake)
  return fake


def test_object_store_version_gets_saved_model_pb_then_the_marker_last(model, store):
  target = 'fake://serving'
  version_dir = serving_dir.publish(model, target, {'model_uri': 'a'}, None, now=lambda: 1000)
  assert version_dir == 'fake://serving/1000'
  into_version = [os.path.relpath(p, version_dir) for p in store.written
                  if p.startswith(version_dir + '/')]
  assert sorted(into_version[:-2]) == ['fingerprint.pb', 'variables/variables.data-00000-of-00001',
                                       'variables/variables.index']
  assert into_version[-2:] == ['saved_model.pb', 'push_metadata.json']
  assert store.directory_renames == []
  assert serving_dir.versions(target) == ['1000']
  assert sorted(store.listdir(target)) == ['1000']  # no staging, no lease left


def test_object_store_racing_pushers_exactly_one_pushes(model, store, monkeypatch):
  target = 'fake://serving'
  _slow_latest_version(monkeypatch)
  _assert_exactly_one_pushed(_race_threads(model, target), target)


def test_object_store_lease_of_a_dead_pusher_is_ignored_a_live_one_blocks(
    model, store, monkeypatch):
  target = 'fake://serving'
  monkeypatch.setattr(serving_dir, 'LOCK_WAIT_SECONDS', 0.2)
  store.makedirs(target)
  dead = [f'.push-{1000 - serving_dir.LEASE_SECONDS - 1}-7-00000001-other-host',  # expired
          f'.push-1000-{_exited_pid()}-00000003-{socket.gethostname()}']  # exited
  for name in dead:
    with store.GFile(f'{target}/{name}', 'w') as f:
      f.write('{}')
  serving_dir.publish(model, target, {}, None, now=lambda: 1000)
  assert sorted(store.listdir(target)) == ['1000']

  live = '.push-1000-7-00000002-other-host'
  with store.GFile(f'{target}/{live}', 'w') as f:
    f.write('{}')
  with pytest.raises(locks.Busy, match=f'^another push \\({live}\\) is using {target} '):
    serving_dir.publish(model, target, {}, '1000', now=lambda: 1000)
  assert sorted(store.listdir(target)) == [live, '1000']


def test_push_decision():
  assert pusher.decide_push(True, [], 'uri/1', {}) == (True, 'blessed')
  assert pusher.decide_push(False, ['psnr_gain 1 is below'], 'uri/1', {}) == (
      False, 'not blessed: psnr_gain 1 is below')
  push, reason = pusher.decide_push(True, [], 'uri/1', {'model_uri': 'uri/1', 'version': '7'})
  assert not push and 'already deployed as version 7' in reason


def _tree(root):
  return {os.path.relpath(os.path.join(d, n), root): open(os.path.join(d, n), 'rb').read()
          for d, _, names in os.walk(root) for n in names}


def test_replace_tree_copies_over_a_complete_or_partial_earlier_copy(model, tmp_path):
  """What the baseline and the warm start do when retried with the same output URI."""
  destination = str(tmp_path / 'Format-Serving')
  serving_dir.replace_tree(model, destination)
  assert _tree(destination) == _tree(model)
  serving_dir.replace_tree(model, destination)   # over a complete copy
  assert _tree(destination) == _tree(model)
  os.remove(os.path.join(destination, 'saved_model.pb'))   # a copy cut short, and a stray file
  with open(os.path.join(destination, 'variables', 'stale'), 'w') as f:
    f.write('from another attempt')
  serving_dir.replace_tree(model, destination)
  assert _tree(destination) == _tree(model)
