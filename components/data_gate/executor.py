"""DataGate executor: fails, naming every anomaly, when data validation found any."""
from absl import logging
from tfx.dsl.components.base import base_executor
from tfx.types import artifact_utils

from components import keys
from components.validation import drift

# Each input port, and how its anomalies are named.
CHECKS = {
    keys.SCHEMA_ANOMALIES_KEY: 'schema',
    keys.DRIFT_ANOMALIES_KEY: 'drift from the deployed model\'s data',
    keys.SKEW_ANOMALIES_KEY: 'skew of eval from train',
}


class DataAnomaliesError(RuntimeError):
  """The data failed validation: nothing may train on it."""


def anomaly_lines(anomalies_by_check):
  """['<check> <split>: <feature>: <what> ...'] of {check name: {split: Anomalies}}."""
  lines = []
  for check, by_split in anomalies_by_check.items():
    for split, anomalies in by_split.items():
      lines += drift.describe(anomalies, f'{check} ({split})')
  return lines


class Executor(base_executor.BaseExecutor):
  """Raises DataAnomaliesError unless every validation passed; writes nothing."""

  def Do(self, input_dict, output_dict, exec_properties):
    """Reads the anomalies of each check; raises naming them all.

    Args:
      input_dict: `schema_anomalies` (ExampleValidator against the curated
        schema), `drift_anomalies` (DistributionValidator, the new training
        data against the deployed model's), `skew_anomalies`
        (DistributionValidator, eval against train).
      output_dict: none.
      exec_properties: `code_fingerprint` (only a cache key).
    """
    lines = anomaly_lines({
        name: drift.read_anomalies(artifact_utils.get_single_instance(input_dict[key]).uri)
        for key, name in CHECKS.items()})
    if lines:
      raise DataAnomaliesError(
          f'data validation found {len(lines)} anomal{"y" if len(lines) == 1 else "ies"}, '
          'nothing trains on this data: ' + '; '.join(lines))
    logging.info('Data validation: no anomaly.')
