"""Kubeflow retries: every task of the compiled package re-executed with its own ExecutorInput.

One run of the package on tiny data, task by task as tests/kfp_launcher.py runs
it, with the package's own retry policy. FashionMnistExampleGen,
NoiseAugmenter and the Trainer are killed half-way (SIGKILL once their
writer's temporary directory, or the Trainer's TensorBoard log, exists);
every other task's first attempt is lost after it completed. The retries
re-execute them with the same output URIs, where the first attempts left
their files. The outputs must be those of an uninterrupted run: the same
records, byte for byte, as computed here from the IDX files; one pushed
version, which the re-executed pusher reports as its own. (A kill leaves
what a completed attempt leaves and more: a writer's partial files and
temporary directory, the Trainer's first log.)
"""
import glob
import json
import os

import pytest
import tensorflow as tf

from components import features
from components import keys
from components import serving_dir as serving_dir_lib
from components import tfrecord_io
from components.ingestion import executor as ingestion_executor
from components.ingestion import idx
from components.noise import executor as noise_executor
from components.noise import noise
from pipeline import configs
from pipeline import kubeflow
from pipeline import pipeline as pipeline_lib
from tests import conftest
from tests import kfp_launcher

IMAGE = 'denoise-pipeline:local'
N_TRAIN, N_EVAL = 200, 50
# Gates any model passes: the first attempt of the pusher publishes.
VALUES = dict(spans=1, warm_start=1, train_examples=0, eval_examples=0, noise_factor=0.2,
              model='tutorial', epochs=1, batch_size=8, learning_rate=3e-3,
              min_psnr_gain_db=-100.0, min_ssim=-1.0, max_psnr_drop_db=100.0,
              max_ssim_drop=2.0)
KILLED_HALF_WAY = {'FashionMnistExampleGen': keys.EXAMPLES_KEY,
                   'NoiseAugmenter': keys.AUGMENTED_EXAMPLES_KEY}
KILLED, LOST, DONE = -9, 0, 0   # exit statuses of the attempts


def _output_uri(executor_input, key):
  return executor_input['outputs']['artifacts'][key]['artifacts'][0]['uri']


def _writing(key):
  """True once Beam's sink has made its temporary directory in a split of the output."""
  def condition(executor_input):
    return bool(glob.glob(os.path.join(_output_uri(executor_input, key), 'Split-*',
                                       tfrecord_io.BEAM_TEMP_PREFIX + '*')))
  return condition


def _training(executor_input):
  """True once the Trainer's TensorBoard log of its training exists: fit has started."""
  return bool(glob.glob(os.path.join(_output_uri(executor_input, 'model_run'), 'train',
                                     'events.out.tfevents.*')))


@pytest.fixture(scope='module')
def retried(tmp_path_factory):
  """(RunResult, serving dir, data dir) of the package run with every task retried."""
  root = tmp_path_factory.mktemp('retries')
  data_dir = conftest.write_dataset(root / 'data', N_TRAIN, N_EVAL)
  serving_dir = str(root / 'serving')
  pipeline = pipeline_lib.create_pipeline(
      pipeline_root=str(root / 'pipeline_root'), serving_dir=serving_dir, data_validation=False,
      **kubeflow.runtime_parameters(dict(VALUES, data_dir=data_dir)))
  package = kubeflow.compile_pipeline(pipeline, IMAGE, str(root / 'denoise.yaml'))
  lost = kfp_launcher.Interruption()
  interrupt = {name: [kfp_launcher.Interruption(kill_when=_writing(key))]
               for name, key in KILLED_HALF_WAY.items()}
  interrupt['Trainer'] = [kfp_launcher.Interruption(kill_when=_training)]
  for name in ('DataSpans', 'TrainingHyperparameters', 'WarmStartModel',
               'DeployedModelBaseline', 'Evaluator', 'DenoisePusher', 'DenoiseReport'):
    interrupt[name] = [lost]
  return kfp_launcher.run_package(package, interrupt=interrupt), serving_dir, data_dir


def test_every_task_is_retried_and_its_retry_succeeds(retried):
  run, _, _ = retried
  assert {name: task.attempts for name, task in run.tasks.items()} == {
      'DataSpans': [LOST, DONE], 'TrainingHyperparameters': [LOST, DONE],
      'WarmStartModel': [LOST, DONE], 'DeployedModelBaseline': [LOST, DONE],
      'Evaluator': [LOST, DONE], 'DenoisePusher': [LOST, DONE], 'DenoiseReport': [LOST, DONE],
      'FashionMnistExampleGen': [KILLED, DONE], 'NoiseAugmenter': [KILLED, DONE],
      'Trainer': [KILLED, DONE]}


def _split_files(run, task, key, split):
  return sorted(os.listdir(os.path.join(run.tasks[task].artifacts[key]['uri'], f'Split-{split}')))


def _records(run, task, key, split):
  directory = os.path.join(run.tasks[task].artifacts[key]['uri'], f'Split-{split}')
  files = [os.path.join(directory, name) for name in os.listdir(directory)]
  return sorted(r.numpy() for r in tfrecord_io.tfrecord_dataset(files))


def _uninterrupted(data_dir, split):
  """(ingested, noisy) serialized records of a split, sorted, computed here from the IDX files."""
  size = N_TRAIN if split == features.TRAIN_SPLIT else N_EVAL
  [(_, images, labels)] = idx.read_split(data_dir, split, size, size)
  ids = [idx.example_id(split, i) for i in range(size)]
  ingested = list(ingestion_executor.to_examples(images.reshape(size, -1), labels, ids))
  clean = noise.to_unit_float(images.reshape(size, -1))
  encoded = [i.encode() for i in ids]
  noisy = noise.add_noise(clean, noise.draw_noise(configs.DEFAULT_SEED, encoded),
                          VALUES['noise_factor'])
  augmented = [noise_executor.to_noisy_example(c, n, int(label), i)
               for c, n, label, i in zip(clean, noisy, labels, encoded)]
  return sorted(ingested), sorted(augmented)


@pytest.mark.parametrize('split', features.SPLITS)
def test_killed_writers_retried_write_what_an_uninterrupted_run_writes(retried, split):
  run, _, data_dir = retried
  ingested, augmented = _uninterrupted(data_dir, split)
  for task, key, expected in (('FashionMnistExampleGen', keys.EXAMPLES_KEY, ingested),
                              ('NoiseAugmenter', keys.AUGMENTED_EXAMPLES_KEY, augmented)):
    # No temporary directory left, and each record once: none of the killed attempt's.
    assert all(name.startswith('data_tfrecord-') for name in _split_files(run, task, key, split))
    assert _records(run, task, key, split) == expected, task
  examples = run.tasks['FashionMnistExampleGen'].artifacts[keys.EXAMPLES_KEY]['metadata']
  assert examples[keys.split_size_property(split)] == len(ingested)


def test_the_killed_trainer_retried_exports_one_model_and_one_training_log(retried):
  run, _, _ = retried
  model_dir = os.path.join(run.tasks['Trainer'].artifacts['model']['uri'], 'Format-Serving')
  serving_dir_lib.check_deployable(model_dir)
  denoised = tf.saved_model.load(model_dir).signatures[features.SERVING_SIGNATURE](
      images=tf.fill([1, *features.IMAGE_SHAPE], 0.5))[features.SERVING_OUTPUT_KEY]
  assert denoised.shape == (1, *features.IMAGE_SHAPE)
  model_run = run.tasks['Trainer'].artifacts['model_run']['uri']
  for phase in ('train', 'validation'):  # Not the killed attempt's log beside it.
    assert len(glob.glob(os.path.join(model_run, phase, 'events.out.tfevents.*'))) == 1, phase


def test_a_re_executed_pusher_reports_the_version_it_published_and_publishes_nothing_more(
    retried):
  run, serving_dir, _ = retried
  [version] = serving_dir_lib.versions(serving_dir)
  pushed = run.tasks['DenoisePusher'].artifacts['pushed_model']
  assert (pushed['metadata']['pushed'], pushed['metadata']['reason']) == (1.0, 'blessed')
  assert pushed['metadata']['pushed_version'] == version
  assert pushed['metadata']['pushed_destination'] == os.path.join(serving_dir, version)
  record = serving_dir_lib.read_push_metadata(os.path.join(serving_dir, version))
  assert record[keys.PUSHED_MODEL_URI_PROPERTY] == pushed['uri']
  assert record['model_uri'] == run.tasks['Trainer'].artifacts['model']['uri']
  with open(os.path.join(run.tasks['DenoiseReport'].artifacts['report']['uri'],
                         'metrics.json')) as f:
    report = json.load(f)
  assert (report['pushed'], report['pushed_model_dir']) == (True, os.path.join(serving_dir,
                                                                               version))


def test_the_re_executed_baseline_and_evaluator_replace_their_outputs(retried):
  run, _, _ = retried
  baseline = run.tasks['DeployedModelBaseline'].artifacts['baseline_model']
  assert baseline['metadata']['deployed_version'] == ''   # Nothing was deployed before.
  serving_dir_lib.check_deployable(os.path.join(baseline['uri'], 'Format-Serving'))
  blessing = run.tasks['Evaluator'].artifacts['blessing']
  assert blessing['metadata']['blessed'] == 1.0
  assert os.listdir(blessing['uri']) == ['BLESSED']

