"""The serving directory: atomic, never-overwritten versions; the push decision."""
import os

import pytest
import tensorflow as tf

from components.pusher import component as pusher
from components import serving_dir


def _model(tmp_path):
  model_dir = tmp_path / 'model'
  (model_dir / 'variables').mkdir(parents=True)
  (model_dir / 'saved_model.pb').write_bytes(b'graph')
  (model_dir / 'variables' / 'variables.index').write_bytes(b'index')
  return str(model_dir)


def test_push_creates_complete_sortable_versions(tmp_path):
  target = str(tmp_path / 'serving')
  model = _model(tmp_path)
  first = serving_dir.push(model, target, {'model_uri': 'a'}, now=lambda: 1000)
  second = serving_dir.push(model, target, {'model_uri': 'b'}, now=lambda: 1000)  # same second
  assert serving_dir.versions(target) == ['1000', '1001']
  assert os.path.isfile(os.path.join(second, 'variables', 'variables.index'))
  assert serving_dir.read_push_metadata(first) == {'model_uri': 'a', 'version': '1000'}
  assert serving_dir.latest_version(target) == '1001'
  assert sorted(os.listdir(target)) == ['1000', '1001']  # no staging left behind


def test_failed_copy_leaves_no_version_and_no_staging(tmp_path, monkeypatch):
  target = str(tmp_path / 'serving')
  model = _model(tmp_path)
  real_copy = tf.io.gfile.copy
  copies = []

  def copy_then_fail(src, dst, overwrite=False):
    copies.append(src)
    if len(copies) == 2:
      raise OSError('disk full')
    real_copy(src, dst, overwrite)

  monkeypatch.setattr(tf.io.gfile, 'copy', copy_then_fail)
  with pytest.raises(OSError, match='disk full'):
    serving_dir.push(model, target, {}, now=lambda: 1000)
  assert os.listdir(target) == []
  assert serving_dir.latest_version(target) is None


def test_unfinished_staging_directories_are_not_versions(tmp_path):
  target = tmp_path / 'serving'
  (target / '.tmp-2000-1').mkdir(parents=True)
  (target / '1500').mkdir()
  assert serving_dir.versions(str(target)) == ['1500']


def test_push_decision():
  assert pusher.decide_push(True, [], 'uri/1', {}) == (True, 'blessed')
  assert pusher.decide_push(False, ['psnr_gain 1 is below'], 'uri/1', {}) == (
      False, 'not blessed: psnr_gain 1 is below')
  push, reason = pusher.decide_push(True, [], 'uri/1', {'model_uri': 'uri/1', 'version': '7'})
  assert not push and 'already deployed as version 7' in reason
