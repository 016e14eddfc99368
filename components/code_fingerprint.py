"""A hash of the project code a module runs, so that a component's cache key covers all of it.

TFX and KFP key a component's cache on its executor's class path (and on
Kubeflow the image's name), not on the code behind it. The hash of a module
and of every project module it imports, transitively, is an execution
property of each custom component (its component.py: spec, driver, executor
and their cores) and part of the Trainer's custom_config (its run_fn
module), so an edit of any of those files re-runs that component and what
follows it, and an edit nothing imports re-runs nothing.
"""
import ast
import hashlib
import os

PROJECT_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _project_file(module_name):
  """The .py file of a project module or package, or None (third-party, or not a module)."""
  base = os.path.join(PROJECT_ROOT, *module_name.split('.'))
  for path in (base + '.py', os.path.join(base, '__init__.py')):
    if os.path.isfile(path):
      return path
  return None


def _imported_modules(path):
  """Names of the modules a file imports at any depth of its code (absolute imports)."""
  with open(path) as f:
    tree = ast.parse(f.read(), path)
  for node in ast.walk(tree):
    if isinstance(node, ast.Import):
      yield from (alias.name for alias in node.names)
    elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
      yield node.module
      # `from package import module` names a module too.
      yield from (f'{node.module}.{alias.name}' for alias in node.names)


def project_files(module_file):
  """The module file and every project file it imports, transitively, sorted."""
  seen, pending = set(), [os.path.abspath(module_file)]
  while pending:
    path = pending.pop()
    if path in seen:
      continue
    seen.add(path)
    for name in _imported_modules(path):
      parts = name.split('.')
      # A package's __init__ runs before its submodules: include each level.
      for depth in range(1, len(parts) + 1):
        found = _project_file('.'.join(parts[:depth]))
        if found and found not in seen:
          pending.append(found)
  return sorted(seen)


def fingerprint(module_file):
  """SHA-256 over the paths (relative to the project) and contents of project_files()."""
  digest = hashlib.sha256()
  for path in project_files(module_file):
    digest.update(os.path.relpath(path, PROJECT_ROOT).encode() + b'\0')
    with open(path, 'rb') as f:
      digest.update(f.read() + b'\0')
  return digest.hexdigest()
