"""Port, parameter and artifact-property names of the custom components, one spelling each.

As TFX's standard_component_specs: a component's spec, its executor and the
readers downstream (the report, the runners, the tests) name a port or a
property through these constants. Ports that mean what TFX's own mean reuse
TFX's names.
"""
from tfx.types import standard_component_specs

# Ports shared with TFX's standard components.
EXAMPLES_KEY = standard_component_specs.EXAMPLES_KEY
MODEL_KEY = standard_component_specs.MODEL_KEY
BASELINE_MODEL_KEY = standard_component_specs.BASELINE_MODEL_KEY
MODEL_BLESSING_KEY = standard_component_specs.MODEL_BLESSING_KEY
BLESSING_KEY = standard_component_specs.BLESSING_KEY           # the Evaluator's output
EVALUATION_KEY = standard_component_specs.EVALUATION_KEY
PUSHED_MODEL_KEY = standard_component_specs.PUSHED_MODEL_KEY

# FashionMnistExampleGen: parameters, and properties of its Examples.
DATA_DIR_KEY = 'data_dir'
TRAIN_EXAMPLES_KEY = 'train_examples'
EVAL_EXAMPLES_KEY = 'eval_examples'


def split_size_property(split):
  """The Examples property that holds a split's number of examples."""
  return f'{split}_examples'


# NoiseAugmenter: parameters, also recorded as properties of its output.
AUGMENTED_EXAMPLES_KEY = 'augmented_examples'
NOISE_FACTOR_KEY = 'noise_factor'
SEED_KEY = 'seed'

# DeployedModelBaseline and DenoisePusher.
SERVING_DIR_KEY = 'serving_dir'
DEPLOYED_VERSION_KEY = 'deployed_version'   # parameter, and property of the baseline

# Properties of the PushedModel; the first three as TFX's own Pusher.
PUSHED_PROPERTY = 'pushed'
PUSHED_DESTINATION_PROPERTY = 'pushed_destination'
PUSHED_VERSION_PROPERTY = 'pushed_version'
PUSH_REASON_PROPERTY = 'reason'

# DenoiseReport: the report directory, and what the KFP UI shows of a run.
REPORT_KEY = 'report'
METRICS_KEY = 'metrics'           # system.Metrics: the scalars, as custom properties
HTML_REPORT_KEY = 'html_report'   # system.HTML: report.html, the file at its URI
