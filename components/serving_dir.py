"""Pure core of deployment: the versioned serving directory.

Layout: <serving_dir>/<version>/ holds a SavedModel and PUSH_METADATA; the
version is a unix timestamp in seconds, so names sort by push time. A
version is written under a hidden temporary name and renamed into place, so
it appears complete or not at all, and an existing version is never replaced.
"""
import json
import os
import time

import tensorflow as tf

PUSH_METADATA = 'push_metadata.json'
_TMP_PREFIX = '.tmp-'


def versions(serving_dir):
  """Complete versions in serving_dir, oldest first."""
  if not tf.io.gfile.isdir(serving_dir):
    return []
  names = [n.rstrip('/') for n in tf.io.gfile.listdir(serving_dir)]
  return sorted((n for n in names if n.isdigit()), key=int)


def latest_version(serving_dir):
  found = versions(serving_dir)
  return found[-1] if found else None


def read_push_metadata(version_dir):
  path = os.path.join(version_dir, PUSH_METADATA)
  if not tf.io.gfile.exists(path):
    return {}
  with tf.io.gfile.GFile(path) as f:
    return json.load(f)


def copy_tree(src, dst):
  for dirpath, _, filenames in tf.io.gfile.walk(src):
    target = os.path.join(dst, os.path.relpath(dirpath, src))
    tf.io.gfile.makedirs(target)
    for name in filenames:
      tf.io.gfile.copy(os.path.join(dirpath, name), os.path.join(target, name))


def push(model_dir, serving_dir, metadata, now=time.time):
  """Copies model_dir to a new version of serving_dir; returns the version dir."""
  tf.io.gfile.makedirs(serving_dir)
  version = int(now())
  latest = latest_version(serving_dir)
  if latest is not None and int(latest) >= version:
    version = int(latest) + 1  # never overwrite, keep the order of pushes
  final = os.path.join(serving_dir, str(version))
  staging = os.path.join(serving_dir, f'{_TMP_PREFIX}{version}-{os.getpid()}')
  if tf.io.gfile.exists(staging):
    tf.io.gfile.rmtree(staging)
  try:
    copy_tree(model_dir, staging)
    with tf.io.gfile.GFile(os.path.join(staging, PUSH_METADATA), 'w') as f:
      json.dump(dict(metadata, version=str(version)), f, indent=2)
    tf.io.gfile.rename(staging, final, overwrite=False)
  finally:
    if tf.io.gfile.exists(staging):
      tf.io.gfile.rmtree(staging)
  return final
