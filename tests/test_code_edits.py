"""An edit of project code re-runs exactly the components that run it, and what follows them.

Through `python local_runner.py` of a copy of the repository, on tiny data:
a first run, then one run after each edit of the copy. The SSIM gate refuses
every model, so nothing is deployed and the baseline's cache key (the
deployed version) stays the same: only the edits change cache keys. Which
files each component's fingerprint covers, for every custom component and
the Trainer, is checked without running anything.
"""
import json
import os
import shutil
import subprocess
import sys

import pytest

from components import code_fingerprint
from pipeline import pipeline as pipeline_lib
from tests import conftest

RUN_FLAGS = ('--nodata_validation', '--epochs=1', '--batch_size=8', '--min_ssim=0.999')
ALWAYS_CACHED = {'DataSpans', 'FashionMnistExampleGen', 'TrainingHyperparameters',
                 'WarmStartModel'}
FROM_THE_TRAINER = ('Trainer', 'DeployedModelBaseline', 'Evaluator', 'DenoisePusher',
                    'DenoiseReport')
# The component.py of each custom component, by component id.
COMPONENT_FILES = {
    'DataSpans': 'components/data_spans/component.py',
    'FashionMnistExampleGen': 'components/ingestion/component.py',
    'WarmStartModel': 'components/warm_start/component.py',
    'NoiseAugmenter': 'components/noise/component.py',
    'TrainingHyperparameters': 'components/hyperparameters/component.py',
    'DeployedModelBaseline': 'components/baseline/component.py',
    'Evaluator': 'components/evaluation/component.py',
    'DenoisePusher': 'components/pusher/component.py',
    'DenoiseReport': 'components/report/component.py',
    'DeployedStatistics': 'components/deployed_statistics/component.py',
    'DataGate': 'components/data_gate/component.py',
}
# Custom components of data validation, which RUN_FLAGS turn off.
VALIDATION_ONLY = {'DeployedStatistics', 'DataGate'}
TRAINER_FILE = 'components/model_code/denoise_trainer.py'
# Which fingerprints an edit changes: those of the components whose code
# imports the file. Each edit of a component's own code (one per component)
# reaches it and, at most, components downstream of it: the pusher and the
# report read the hyperparameters' file, the evaluation's results and the
# noise's parameters.
EDITS = {
    'components/data_spans/executor.py': {'DataSpans'},
    'components/ingestion/executor.py': {'FashionMnistExampleGen'},
    'components/warm_start/executor.py': {'WarmStartModel'},
    'components/noise/noise.py': {'NoiseAugmenter', 'DenoiseReport'},
    'components/hyperparameters/executor.py': {'TrainingHyperparameters', 'DenoisePusher'},
    'components/model_code/model.py': {'Trainer'},
    'components/baseline/executor.py': {'DeployedModelBaseline'},
    'components/deployed_statistics/executor.py': {'DeployedStatistics'},
    'components/data_gate/executor.py': {'DataGate'},
    'components/validation/drift.py': {'DataGate'},
    # The eval images and their metrics, which the baseline scores versions with.
    'components/eval_images.py': {'DeployedModelBaseline', 'DenoiseReport'},
    'components/evaluation/eval_config.py': {'Evaluator', 'DenoisePusher', 'DenoiseReport'},
    'components/pusher/executor.py': {'DenoisePusher'},
    'components/report/report.py': {'DenoiseReport'},
    # Shared files: the metrics are the Evaluator's (and the report's), not training's.
    'components/model_code/metrics.py': {'DeployedModelBaseline', 'Evaluator', 'DenoisePusher',
                                         'DenoiseReport'},
    'components/ingestion/idx.py': {'DataSpans', 'FashionMnistExampleGen',
                                    'DeployedModelBaseline', 'DenoiseReport'},
    'components/tfrecord_io.py': {'FashionMnistExampleGen', 'NoiseAugmenter', 'Trainer',
                                  'DeployedModelBaseline', 'DenoiseReport'},
    'docs/render_tensorboard_scalars.py': set(),   # imported by nothing
}


def _copy_project(destination):
  shutil.copytree(conftest.ROOT, destination, ignore=shutil.ignore_patterns(
      '.git', '.venv', '__pycache__', 'tfx_output', '.ci', 'bench', 'tests'))
  return destination


def _append(root, path, line='# an edit'):
  with open(os.path.join(root, path), 'a') as f:
    f.write(f'\n{line}\n')


def _fingerprints(root, monkeypatch):
  """{component id: fingerprint} of the copy at root."""
  monkeypatch.setattr(code_fingerprint, 'PROJECT_ROOT', str(root))
  files = dict(COMPONENT_FILES, Trainer=TRAINER_FILE)
  return {name: code_fingerprint.fingerprint(str(root / path)) for name, path in files.items()}


def test_every_custom_component_and_the_trainer_carry_the_fingerprint_of_their_code(tmp_path):
  pipeline = pipeline_lib.create_pipeline(pipeline_root=str(tmp_path / 'root'),
                                          serving_dir=str(tmp_path / 'serving'))
  by_id = {c.id: c for c in pipeline.components}
  for name, path in COMPONENT_FILES.items():
    assert by_id[name].exec_properties['code_fingerprint'] == code_fingerprint.fingerprint(
        os.path.join(conftest.ROOT, path)), name
  assert set(COMPONENT_FILES) | {'Trainer'} | {
      'ImportSchemaGen', 'StatisticsGen', 'ExampleValidator', 'DriftValidator',
      'SkewValidator'} == set(by_id)


@pytest.mark.parametrize('edited', sorted(EDITS))
def test_an_edit_changes_the_fingerprints_of_the_components_that_run_the_file(
    tmp_path, monkeypatch, edited):
  root = _copy_project(tmp_path / 'project')
  before = _fingerprints(root, monkeypatch)
  _append(root, edited)
  after = _fingerprints(root, monkeypatch)
  assert {name for name in before if before[name] != after[name]} == EDITS[edited]


def _run(root, output_dir, data_dir):
  """The copy's local_runner.py in a process of its own: {component id: state}."""
  result = subprocess.run(
      [sys.executable, 'local_runner.py', f'--output_dir={output_dir}',
       f'--data_dir={data_dir}', *RUN_FLAGS],
      cwd=root, env=dict(os.environ, PYTHONPATH=str(root)), capture_output=True, text=True,
      timeout=600, check=False)
  assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
  with open(os.path.join(output_dir, 'run_summary.json')) as f:
    return {c['id']: c['state'] for c in json.load(f)['components']}


def _executed(states):
  return {name for name, state in states.items() if state == 'executed'}


def test_an_edit_re_runs_its_components_and_what_follows_and_nothing_else(tmp_path):
  root = _copy_project(tmp_path / 'project')
  data_dir = conftest.write_dataset(tmp_path / 'data', 300, 60)
  output_dir = str(tmp_path / 'out')

  first = _run(root, output_dir, data_dir)
  assert _executed(first) == set(COMPONENT_FILES) - VALIDATION_ONLY | {'Trainer'}

  # Nothing imports either: not even a module in the Trainer's own folder.
  _append(root, 'docs/render_tensorboard_scalars.py')
  with open(root / 'components' / 'model_code' / 'notes.py', 'w') as f:
    f.write('"""Not imported by anything."""\n')
  assert _executed(_run(root, output_dir, data_dir)) == set()

  _append(root, 'components/report/report.py')
  assert _executed(_run(root, output_dir, data_dir)) == {'DenoiseReport'}

  # The Evaluator's metrics, which also score the deployed versions: the model
  # is not trained again.
  _append(root, 'components/model_code/metrics.py')
  assert _executed(_run(root, output_dir, data_dir)) == {
      'DeployedModelBaseline', 'Evaluator', 'DenoisePusher', 'DenoiseReport'}

  _append(root, 'components/noise/noise.py')
  states = _run(root, output_dir, data_dir)
  assert _executed(states) == {'NoiseAugmenter', *FROM_THE_TRAINER}
  assert {name for name, state in states.items() if state == 'cached'} == ALWAYS_CACHED
