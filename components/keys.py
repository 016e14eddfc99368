"""Port, parameter and artifact-property names of the custom components, one spelling each.

As TFX's standard_component_specs: a component's spec, its executor and the
readers downstream (the report, the runners, the tests) name a port or a
property through these constants. Ports that mean what TFX's own mean reuse
TFX's names.
"""
from tfx.components.example_gen import utils as example_gen_utils
from tfx.types import standard_component_specs

# Ports shared with TFX's standard components.
EXAMPLES_KEY = standard_component_specs.EXAMPLES_KEY
MODEL_KEY = standard_component_specs.MODEL_KEY
BASELINE_MODEL_KEY = standard_component_specs.BASELINE_MODEL_KEY
MODEL_BLESSING_KEY = standard_component_specs.MODEL_BLESSING_KEY
BLESSING_KEY = standard_component_specs.BLESSING_KEY           # the Evaluator's output
EVALUATION_KEY = standard_component_specs.EVALUATION_KEY
HYPERPARAMETERS_KEY = standard_component_specs.HYPERPARAMETERS_KEY   # the Trainer's input
EXAMPLE_SPLITS_KEY = standard_component_specs.EXAMPLE_SPLITS_KEY     # the Evaluator's
EVAL_CONFIG_KEY = standard_component_specs.EVAL_CONFIG_KEY
PUSHED_MODEL_KEY = standard_component_specs.PUSHED_MODEL_KEY
BASE_MODEL_KEY = standard_component_specs.BASE_MODEL_KEY   # the Trainer's warm start
STATISTICS_KEY = standard_component_specs.STATISTICS_KEY
BASELINE_STATISTICS_KEY = standard_component_specs.BASELINE_STATISTICS_KEY
SCHEMA_KEY = standard_component_specs.SCHEMA_KEY
ANOMALIES_KEY = standard_component_specs.ANOMALIES_KEY

# Every custom component: the hash of its code (components/code_fingerprint.py),
# a parameter that only keys the cache; the Trainer's custom_config holds one too.
CODE_FINGERPRINT_KEY = 'code_fingerprint'

# DataSpans: parameters; its driver's resolution; its outputs, String values
# that downstream components take as parameters (KFP caches them by value).
DATA_DIR_KEY = 'data_dir'
SPANS_KEY = 'spans'                  # how many of the latest spans to train on
WARM_START_KEY = 'warm_start'        # 0/1: a Kubeflow parameter is an integer
RESOLVED_KEY = 'resolved'            # what the driver resolved, JSON
INPUT_SPANS_KEY = 'input_spans'      # JSON: data_dir, span numbers, input fingerprint
WARM_START_VERSION_KEY = 'warm_start_version'   # the deployed version to start from, or ''
# Fields of INPUT_SPANS_KEY's JSON, also properties of the Examples (with TFX's
# own `span`, the latest) and of a pushed version's push metadata;
# `input_fingerprint` is TFX's name.
SPAN_NUMBERS_PROPERTY = 'span_numbers'                      # every span trained on
INPUT_FINGERPRINT_PROPERTY = example_gen_utils.FINGERPRINT_PROPERTY_NAME
WARM_STARTED_FROM_PROPERTY = 'warm_started_from'            # in push metadata

# FashionMnistExampleGen: parameters (INPUT_SPANS_KEY and), and properties of its Examples.
TRAIN_EXAMPLES_KEY = 'train_examples'
EVAL_EXAMPLES_KEY = 'eval_examples'


def split_size_property(split):
  """The Examples property that holds a split's number of examples."""
  return f'{split}_examples'


# NoiseAugmenter: parameters, also recorded as properties of its output.
AUGMENTED_EXAMPLES_KEY = 'augmented_examples'
NOISE_FACTOR_KEY = 'noise_factor'
SEED_KEY = 'seed'

# TrainingHyperparameters: parameters, written as the Trainer's hyperparameters.
MODEL_NAME_KEY = 'model'
EPOCHS_KEY = 'epochs'
BATCH_SIZE_KEY = 'batch_size'
LEARNING_RATE_KEY = 'learning_rate'
TRAINING_PARAMETER_KEYS = (MODEL_NAME_KEY, EPOCHS_KEY, BATCH_SIZE_KEY, LEARNING_RATE_KEY)

# GatedEvaluator: the blessing gates.
MIN_PSNR_GAIN_DB_KEY = 'min_psnr_gain_db'
MIN_SSIM_KEY = 'min_ssim'
MAX_PSNR_DROP_DB_KEY = 'max_psnr_drop_db'
MAX_SSIM_DROP_KEY = 'max_ssim_drop'
GATE_KEYS = (MIN_PSNR_GAIN_DB_KEY, MIN_SSIM_KEY, MAX_PSNR_DROP_DB_KEY, MAX_SSIM_DROP_KEY)

# DataGate: the anomalies it reads, one port per check.
SCHEMA_ANOMALIES_KEY = 'schema_anomalies'   # ExampleValidator: the curated schema
DRIFT_ANOMALIES_KEY = 'drift_anomalies'     # DistributionValidator: vs the deployed data
SKEW_ANOMALIES_KEY = 'skew_anomalies'       # DistributionValidator: eval vs train

# DeployedModelBaseline, DeployedStatistics and DenoisePusher.
SERVING_DIR_KEY = 'serving_dir'
DEPLOYED_VERSION_KEY = 'deployed_version'   # DeployedStatistics' parameter; property of the baselines
DEPLOYED_VERSIONS_KEY = 'deployed_versions'   # the baseline's parameter: all of them
NEWEST_VERSION_PROPERTY = 'newest_version'   # of the baseline: what the pusher swaps
STATISTICS_URI_PROPERTY = 'statistics_uri'   # in push metadata: the data's statistics

# Properties of the PushedModel; the first three as TFX's own Pusher.
PUSHED_PROPERTY = 'pushed'
PUSHED_DESTINATION_PROPERTY = 'pushed_destination'
PUSHED_VERSION_PROPERTY = 'pushed_version'
PUSH_REASON_PROPERTY = 'reason'
# In a version's push metadata: the URI of the PushedModel that recorded the
# push, which a retried pusher (same output URI on Kubeflow) finds again.
PUSHED_MODEL_URI_PROPERTY = 'pushed_model_uri'

# DenoiseReport: the report directory, and what the KFP UI shows of a run.
REPORT_KEY = 'report'
METRICS_KEY = 'metrics'           # system.Metrics: the scalars, as custom properties
HTML_REPORT_KEY = 'html_report'   # system.HTML: report.html, the file at its URI
