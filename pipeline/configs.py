"""What a runner chooses: the pipeline's name, the defaults of every flag, where outputs go.

The data contract (feature keys, signature and metric names) lives below the
components, in components/features.py; this module is the runners' only.
"""
PIPELINE_NAME = 'denoise-pipeline'

# ---------------------------------------------------------------- defaults
# The data: the latest span of the data directory.
DEFAULT_SPANS = 1

# The tutorial's science: noise, model and training.
DEFAULT_NOISE_FACTOR = 0.2
DEFAULT_SEED = 42
DEFAULT_MODEL = 'tutorial'
DEFAULT_EPOCHS = 10
DEFAULT_BATCH_SIZE = 32
DEFAULT_LEARNING_RATE = 1e-3           # Adam's default, as in the tutorial

# Blessing: absolute gates on the overall slice, and the change gate against
# the deployed model.
DEFAULT_MIN_PSNR_GAIN_DB = 3.0    # candidate PSNR minus the noisy input's
DEFAULT_MIN_SSIM = 0.65
DEFAULT_MAX_PSNR_DROP_DB = 0.1    # vs the best deployed version
DEFAULT_MAX_SSIM_DROP = 0.005     # vs the same version

# ---------------------------------------------------------------- outputs
DEFAULT_OUTPUT_DIR = 'tfx_output'
ARTIFACTS_DIR_NAME = 'artifacts'          # the pipeline root under the output dir
SERVING_DIR_NAME = 'serving_model'
RUN_SUMMARY_NAME = 'run_summary.json'
LOGS_DIR_NAME = 'logs'                    # <run time>.log: what the console does not show
METADATA_NAME = 'metadata.sqlite'

# ---------------------------------------------------------------- Kubeflow
# What an operator may change per run or schedule without recompiling: the
# create_pipeline() arguments compiled as pipeline parameters, and their
# types; defaults are the values given at compile time. The rest (seed,
# mixed precision, data validation, caching, resources) is fixed when
# compiling: it shapes the DAG or the Trainer's container, or (the seed) is
# shared by the noise and the Trainer.
RUNTIME_PARAMETER_TYPES = {
    'data_dir': str,
    'spans': int,
    'warm_start': int,   # 0/1: TFX's run-time parameters are int, float or str
    'train_examples': int,
    'eval_examples': int,
    'noise_factor': float,
    'model': str,
    'epochs': int,
    'batch_size': int,
    'learning_rate': float,
    'min_psnr_gain_db': float,
    'min_ssim': float,
    'max_psnr_drop_db': float,
    'max_ssim_drop': float,
}

# Retries of every task (KFP's retryPolicy: Argo retries the task's executor
# pod with the same inputs and output URIs): a preempted or evicted pod costs
# a retry, not the scheduled run. The backoff doubles from this many seconds.
DEFAULT_RETRIES = 3
DEFAULT_RETRY_BACKOFF_SECONDS = 60
