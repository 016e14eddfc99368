"""pipeline/container_entrypoint.py: a task's exit status is its executor's, whatever tensorflow-io does at exit.

That a task which used s3:// exits 0 is shown by tests/test_s3_artifact_root.py.
"""
import subprocess
import sys

import pytest

from pipeline import container_entrypoint
from tests import conftest


@pytest.mark.parametrize('code, status, printed', [
    (None, 0, ''), (0, 0, ''), (2, 2, ''), ('no executor', 1, 'no executor\n')])
def test_exit_status_is_what_python_gives_sys_exit(code, status, printed, capsys):
  assert container_entrypoint.exit_status(code) == status
  assert capsys.readouterr().err == printed


def test_an_executor_that_raises_fails_its_task_with_the_traceback():
  result = subprocess.run(
      [sys.executable, '-m', 'pipeline.container_entrypoint',
       '--executor_class_path', 'components.no_such_module.Executor',
       '--json_serialized_invocation_args', '{}'],
      cwd=conftest.ROOT, capture_output=True, text=True, timeout=300, check=False)
  assert result.returncode == 1, result.stderr[-3000:]
  assert 'Traceback (most recent call last)' in result.stderr
  assert "No module named 'components.no_such_module'" in result.stderr
