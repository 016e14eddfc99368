"""The Trainer's cache key covers every project file that training runs."""
import os
import shutil

from components import code_fingerprint
from pipeline import pipeline as pipeline_lib
from tests import conftest

TRAINER = os.path.join('components', 'model_code', 'denoise_trainer.py')


def _copy_project(tmp_path):
  root = tmp_path / 'project'
  for package in ('components', 'pipeline'):
    shutil.copytree(os.path.join(conftest.ROOT, package), root / package,
                    ignore=shutil.ignore_patterns('__pycache__'))
  return root


def _fingerprint(root, monkeypatch):
  monkeypatch.setattr(code_fingerprint, 'PROJECT_ROOT', str(root))
  return code_fingerprint.fingerprint(str(root / TRAINER))


def test_files_training_imports_outside_its_folder_are_covered():
  files = {os.path.relpath(p, conftest.ROOT)
           for p in code_fingerprint.project_files(os.path.join(conftest.ROOT, TRAINER))}
  assert {TRAINER, 'components/model_code/model.py', 'components/features.py',
          'components/tfrecord_io.py'} <= files
  # The report and the runners are not training code.
  assert not any(f.startswith(('pipeline/', 'components/report/')) for f in files)


def test_an_edit_of_imported_code_changes_the_fingerprint_and_others_do_not(
    tmp_path, monkeypatch):
  root = _copy_project(tmp_path)
  before = _fingerprint(root, monkeypatch)
  assert _fingerprint(root, monkeypatch) == before
  with open(root / 'components' / 'report' / 'report.py', 'a') as f:
    f.write('\n# not training code\n')
  assert _fingerprint(root, monkeypatch) == before
  with open(root / 'components' / 'features.py', 'a') as f:
    f.write('\n# an edit of the data contract\n')
  after_features = _fingerprint(root, monkeypatch)
  assert after_features != before
  with open(root / 'components' / 'tfrecord_io.py', 'a') as f:
    f.write('\n# an edit of the reader\n')
  after_reader = _fingerprint(root, monkeypatch)
  assert after_reader not in (before, after_features)
  with open(root / TRAINER, 'a') as f:
    f.write('\n# an edit of the training module itself\n')
  assert _fingerprint(root, monkeypatch) not in (before, after_features, after_reader)


def test_the_trainer_cache_key_holds_the_fingerprint(tmp_path):
  pipeline = pipeline_lib.create_pipeline(pipeline_root=str(tmp_path / 'root'),
                                          serving_dir=str(tmp_path / 'serving'))
  [trainer] = [c for c in pipeline.components if c.id == 'Trainer']
  # TFX keys the cache on the run_fn's path, not on its code: the fingerprint does.
  assert trainer.exec_properties['run_fn'] == pipeline_lib.TRAINER_RUN_FN
  assert not trainer.exec_properties.get('module_file')
  custom_config = trainer.exec_properties['custom_config']
  assert code_fingerprint.fingerprint(pipeline_lib.TRAINER_MODULE_FILE) in str(custom_config)
