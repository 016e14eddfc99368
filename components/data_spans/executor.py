"""DataSpans executor: which spans a run trains on, their fingerprint, and the model to start from."""
import json
import os

from tfx.dsl.components.base import base_executor
from tfx.types import artifact_utils

from components import keys
from components import serving_dir as serving_dir_lib
from components.ingestion import idx


def warm_start_version(serving_dir, input_fingerprint, model_name):
  """The deployed version to start training from, or '' to start from scratch.

  The newest deployed version when it is of the same architecture and was
  trained on other data. When it was trained on exactly this data, the run
  trains as that model was trained, from the same start: retraining it on
  what it has learnt adds nothing, and the same start keeps the cached
  Trainer valid, so a run with no new data trains nothing, the run right
  after a push included.
  """
  latest = serving_dir_lib.latest_version(serving_dir)
  if latest is None:
    return ''
  deployed = serving_dir_lib.read_push_metadata(os.path.join(serving_dir, latest))
  if deployed.get(keys.MODEL_NAME_KEY) != model_name:   # or pushed before it was recorded
    return ''
  if deployed.get(keys.INPUT_FINGERPRINT_PROPERTY) != input_fingerprint:
    return latest
  earlier = deployed.get(keys.WARM_STARTED_FROM_PROPERTY) or ''
  return earlier if earlier in serving_dir_lib.versions(serving_dir) else ''


def resolve(data_dir, num_spans, serving_dir, warm_start, model_name):
  """{data_dir, span_numbers, input_fingerprint, warm_start_version}: what a run takes.

  data_dir '' is looked for (idx.resolve_data_dir); idx.DataError or
  spans.LayoutError name what is wrong with it.
  """
  data_dir = idx.resolve_data_dir(data_dir or None)
  span_dirs = idx.spans_to_use(data_dir, int(num_spans))
  fingerprint = idx.input_fingerprint(span_dirs)
  return {
      keys.DATA_DIR_KEY: data_dir,
      keys.SPAN_NUMBERS_PROPERTY: sorted(span_dirs),
      keys.INPUT_FINGERPRINT_PROPERTY: fingerprint,
      keys.WARM_START_VERSION_KEY: (
          warm_start_version(serving_dir, fingerprint, model_name) if int(warm_start) else ''),
  }


def input_spans_value(data_dir, span_numbers, input_fingerprint):
  """The `input_spans` String FashionMnistExampleGen takes: JSON, keys sorted (a cache key)."""
  return json.dumps({keys.DATA_DIR_KEY: data_dir, keys.SPAN_NUMBERS_PROPERTY: span_numbers,
                     keys.INPUT_FINGERPRINT_PROPERTY: input_fingerprint}, sort_keys=True)


def resolve_from_properties(exec_properties):
  return resolve(*(exec_properties[key] for key in (
      keys.DATA_DIR_KEY, keys.SPANS_KEY, keys.SERVING_DIR_KEY, keys.WARM_START_KEY,
      keys.MODEL_NAME_KEY)))


class Executor(base_executor.BaseExecutor):
  """Writes what the driver resolved, or resolves it here (on Kubeflow, which runs no driver)."""

  def Do(self, input_dict, output_dict, exec_properties):
    """Writes the spans to ingest and the version to warm-start from.

    Args:
      input_dict: none.
      output_dict: `input_spans`: a String, JSON of `data_dir`, `span_numbers`
        (oldest first) and `input_fingerprint`; `warm_start_version`: a String,
        the deployed version the Trainer starts from, '' for none.
      exec_properties: `data_dir` ('' = looked for), `spans` (the latest K),
        `serving_dir`, `warm_start` (0/1), `model` (the architecture to
        train), and `resolved`, set by the driver where one runs (locally):
        what it resolved, which keyed the cache; `code_fingerprint` (only
        a cache key).
    """
    resolved = (json.loads(exec_properties[keys.RESOLVED_KEY])
                if exec_properties.get(keys.RESOLVED_KEY)
                else resolve_from_properties(exec_properties))
    artifact_utils.get_single_instance(output_dict[keys.INPUT_SPANS_KEY]).value = (
        input_spans_value(*(resolved[key] for key in (
            keys.DATA_DIR_KEY, keys.SPAN_NUMBERS_PROPERTY, keys.INPUT_FINGERPRINT_PROPERTY))))
    artifact_utils.get_single_instance(output_dict[keys.WARM_START_VERSION_KEY]).value = (
        resolved[keys.WARM_START_VERSION_KEY])
