"""create_pipeline(): the one definition of the denoising pipeline, for every runner."""
import os

# Not `tfx.v1`: it imports the Google Cloud extensions, ~10 s of start-up.
from tfx.components import ExampleValidator
from tfx.components import StatisticsGen
from tfx.components import Trainer
from tfx.components.schema_gen.import_schema_gen.component import ImportSchemaGen
from tfx.orchestration import data_types
from tfx.orchestration import pipeline as tfx_pipeline
from tfx.proto import trainer_pb2

from components import code_fingerprint
from components import features
from components import keys
from components import schema as schema_lib
from components.baseline.component import DeployedModelBaseline
from components.data_gate.component import DataGate
from components.data_spans.component import DataSpans
from components.deployed_statistics.component import DeployedStatistics
from components.evaluation import gates
from components.evaluation.component import GatedEvaluator
from components.hyperparameters.component import TrainingHyperparameters
from components.ingestion import spans as spans_lib
from components.ingestion.component import FashionMnistExampleGen
from components.model_code import hparams
from components.noise import noise
from components.noise.component import NoiseAugmenter
from components.pusher.component import DenoisePusher
from components.report.component import DenoiseReport
from components.validation import drift
from components.validation.distribution_validator import DistributionValidator
from components.warm_start.component import WarmStartModel
from pipeline import configs

TRAINER_MODULE_FILE = os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
    'components', 'model_code', 'denoise_trainer.py')
TRAINER_RUN_FN = 'components.model_code.denoise_trainer.run_fn'


def _default(value):
  """A value, or the default of a run-time parameter (what a run gets unless told otherwise)."""
  return value.default if isinstance(value, data_types.RuntimeParameter) else value


def create_pipeline(
    pipeline_root,
    serving_dir,
    data_dir='',
    spans=configs.DEFAULT_SPANS,
    warm_start=True,
    pipeline_name=configs.PIPELINE_NAME,
    train_examples=0,
    eval_examples=0,
    noise_factor=configs.DEFAULT_NOISE_FACTOR,
    seed=configs.DEFAULT_SEED,
    model=configs.DEFAULT_MODEL,
    epochs=configs.DEFAULT_EPOCHS,
    batch_size=configs.DEFAULT_BATCH_SIZE,
    learning_rate=configs.DEFAULT_LEARNING_RATE,
    mixed_precision=False,
    min_psnr_gain_db=configs.DEFAULT_MIN_PSNR_GAIN_DB,
    min_ssim=configs.DEFAULT_MIN_SSIM,
    max_psnr_drop_db=configs.DEFAULT_MAX_PSNR_DROP_DB,
    max_ssim_drop=configs.DEFAULT_MAX_SSIM_DROP,
    data_validation=True,
    schema_file=schema_lib.SCHEMA_FILE,
    deployed_versions=(),
    trainer_platform_config=None,
    enable_cache=True,
    metadata_connection_config=None,
    beam_pipeline_args=None,
):
  """Spans -> ingest -> (validate, gate) -> add noise -> train -> evaluate vs the best deployed -> push -> report.

  spans: train on the latest K spans of data_dir; warm_start: start from the
  deployed model's weights when it has the architecture being trained and
  learnt other data (DataSpans decides, at run time).

  deployed_versions: the versions in serving_dir when the pipeline is built,
    oldest first; they key the caches of the baselines, so that a change of
    the deployment is noticed: all of them the model's (the best is chosen),
    the newest the data statistics'.
  schema_file: the curated schema as the executors see it (Kubeflow: the
    image's copy, schema_lib.IMAGE_SCHEMA_FILE).
  trainer_platform_config: e.g. a Kubeflow GPU request for the Trainer.

  data_dir, spans, warm_start (an int 0/1 then), the example counts,
  noise_factor, the four training hyperparameters and the four gates may be
  RuntimeParameters (Kubeflow pipeline parameters); their defaults are
  checked here, their run-time values by the executors.
  """
  hparams.validate_training_params(
      *map(_default, (model, epochs, batch_size, learning_rate)))
  gates.validate_thresholds(
      *map(_default, (min_psnr_gain_db, min_ssim, max_psnr_drop_db, max_ssim_drop)))
  gates.check_gates_can_pass(_default(noise_factor))
  noise.validate_noise_params(_default(noise_factor), seed)
  for name, value in (('train_examples', train_examples), ('eval_examples', eval_examples)):
    value = _default(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
      raise ValueError(f'{name} must be an integer >= 0 (0 = all), got {value!r}')
  spans_lib.validate_num_spans(_default(spans))

  data_spans = DataSpans(data_dir=data_dir, spans=spans, serving_dir=serving_dir,
                         warm_start=(int(warm_start) if isinstance(warm_start, bool)
                                     else warm_start),
                         model=model)
  example_gen = FashionMnistExampleGen(
      # A parameter, not an input artifact: the resolved value keys the cache.
      input_spans=data_spans.outputs[keys.INPUT_SPANS_KEY].future()[0].value,
      train_examples=train_examples, eval_examples=eval_examples)
  components = [data_spans, example_gen]
  noise_augmenter = NoiseAugmenter(
      examples=example_gen.outputs[keys.EXAMPLES_KEY], noise_factor=noise_factor, seed=seed)
  augmented_examples = noise_augmenter.outputs[keys.AUGMENTED_EXAMPLES_KEY]
  statistics = None
  if data_validation:
    schema_importer = ImportSchemaGen(schema_file=schema_file)
    schema = schema_importer.outputs[keys.SCHEMA_KEY]
    # With the schema: the label is categorical, so its classes are counted.
    statistics_gen = StatisticsGen(examples=example_gen.outputs[keys.EXAMPLES_KEY],
                                   schema=schema)
    statistics = statistics_gen.outputs[keys.STATISTICS_KEY]
    example_validator = ExampleValidator(statistics=statistics, schema=schema)
    deployed_statistics = DeployedStatistics(
        statistics=statistics, serving_dir=serving_dir,
        deployed_version=deployed_versions[-1] if deployed_versions else '')
    drift_validator = DistributionValidator(
        statistics=statistics,
        baseline_statistics=deployed_statistics.outputs[keys.BASELINE_STATISTICS_KEY],
        config=drift.distribution_config(),
        include_split_pairs=drift.DRIFT_SPLIT_PAIRS).with_id('DriftValidator')
    skew_validator = DistributionValidator(
        statistics=statistics, baseline_statistics=statistics,
        config=drift.distribution_config(),
        include_split_pairs=drift.SKEW_SPLIT_PAIRS).with_id('SkewValidator')
    data_gate = DataGate(
        schema_anomalies=example_validator.outputs[keys.ANOMALIES_KEY],
        drift_anomalies=drift_validator.outputs[keys.ANOMALIES_KEY],
        skew_anomalies=skew_validator.outputs[keys.ANOMALIES_KEY])
    # Nothing learns from data the gate refused; an ordering, not an input,
    # so the gate's re-runs (a new deployment) leave the noise cached.
    noise_augmenter.add_upstream_node(data_gate)
    components += [schema_importer, statistics_gen, example_validator, deployed_statistics,
                   drift_validator, skew_validator, data_gate]

  hyperparameters = TrainingHyperparameters(
      model=model, epochs=epochs, batch_size=batch_size, learning_rate=learning_rate)
  warm_start_model = WarmStartModel(
      serving_dir=serving_dir,
      warm_start_version=data_spans.outputs[keys.WARM_START_VERSION_KEY].future()[0].value)
  trainer = Trainer(
      # By module path, locally as in the Kubeflow image: no module wheel to
      # build and pip-install per run (3.5 s); the fingerprint below keys the cache.
      run_fn=TRAINER_RUN_FN,
      examples=augmented_examples,
      hyperparameters=hyperparameters.outputs[keys.HYPERPARAMETERS_KEY],
      base_model=warm_start_model.outputs[keys.BASE_MODEL_KEY],
      train_args=trainer_pb2.TrainArgs(splits=[features.TRAIN_SPLIT]),
      eval_args=trainer_pb2.EvalArgs(splits=[features.EVAL_SPLIT]),
      custom_config={'seed': seed, 'mixed_precision': mixed_precision,
                     # Part of the cache key: every project file training runs.
                     keys.CODE_FINGERPRINT_KEY: code_fingerprint.fingerprint(TRAINER_MODULE_FILE)})
  model_channel = trainer.outputs[keys.MODEL_KEY]
  if trainer_platform_config is not None:
    trainer.with_platform_config(trainer_platform_config)

  baseline = DeployedModelBaseline(
      model=model_channel, examples=augmented_examples, serving_dir=serving_dir,
      deployed_versions=deployed_versions)

  evaluator = GatedEvaluator(
      examples=augmented_examples,
      model=model_channel,
      baseline_model=baseline.outputs[keys.BASELINE_MODEL_KEY],
      example_splits=[features.EVAL_SPLIT],
      min_psnr_gain_db=min_psnr_gain_db, min_ssim=min_ssim,
      max_psnr_drop_db=max_psnr_drop_db, max_ssim_drop=max_ssim_drop).with_id('Evaluator')

  pusher = DenoisePusher(
      model=model_channel, model_blessing=evaluator.outputs[keys.BLESSING_KEY],
      evaluation=evaluator.outputs[keys.EVALUATION_KEY],
      baseline_model=baseline.outputs[keys.BASELINE_MODEL_KEY], examples=augmented_examples,
      hyperparameters=hyperparameters.outputs[keys.HYPERPARAMETERS_KEY],
      base_model=warm_start_model.outputs[keys.BASE_MODEL_KEY], serving_dir=serving_dir,
      statistics=statistics)

  report = DenoiseReport(
      model=model_channel,
      examples=augmented_examples,
      evaluation=evaluator.outputs[keys.EVALUATION_KEY],
      baseline_model=baseline.outputs[keys.BASELINE_MODEL_KEY],
      pushed_model=pusher.outputs[keys.PUSHED_MODEL_KEY])

  components += [noise_augmenter, hyperparameters, warm_start_model, trainer, baseline,
                 evaluator, pusher, report]
  return tfx_pipeline.Pipeline(
      pipeline_name=pipeline_name,
      pipeline_root=pipeline_root,
      components=components,
      enable_cache=enable_cache,
      metadata_connection_config=metadata_connection_config,
      beam_pipeline_args=beam_pipeline_args or [])
