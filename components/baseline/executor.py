"""DeployedModelBaseline executor: copies the best deployed version, or the candidate, into a Model artifact."""
import os

from absl import logging
import tensorflow as tf
from tfx.dsl.components.base import base_executor
from tfx.types import artifact_utils
from tfx.utils import path_utils

from components import eval_images
from components import features
from components import keys
from components import serving_dir as serving_dir_lib


def score_versions(serving_dir, versions, eval_pattern):
  """{version: mean PSNR of its denoised eval images}: the Evaluator's PSNR, on the same data."""
  _, _, clean, noisy = eval_images.load_eval_images(eval_pattern)
  scores = {}
  for version in versions:
    serve = tf.saved_model.load(os.path.join(serving_dir, version)).signatures[
        features.SERVING_SIGNATURE]
    scores[version] = eval_images.mean_metrics(clean, eval_images.denoise(serve, noisy))['psnr']
  return scores


def best_version(scores):
  """The version of the highest score; of equal scores, the newest."""
  return max(scores, key=lambda version: (scores[version], int(version)))


def servable_versions(serving_dir, versions):
  """The versions TF Serving can serve; the newest must be one, older broken ones are skipped."""
  servable = []
  for version in versions:
    try:
      serving_dir_lib.check_deployable(os.path.join(serving_dir, version))
      servable.append(version)
    except serving_dir_lib.BrokenVersion as broken:
      if version == versions[-1]:
        raise   # what serves is broken: the run fails here, named, before any push
      logging.warning('Baseline: skipping %s', broken)
  return servable


class Executor(base_executor.BaseExecutor):
  """The best deployed version on this run's eval data as a Model, or the candidate when none is."""

  def Do(self, input_dict, output_dict, exec_properties):
    """Writes the baseline model and records which version it is.

    The baseline is the deployed version of the highest mean PSNR on this
    run's eval images, not the newest: a candidate must be within the gates'
    tolerance of the best version still deployed, so a chain of small losses,
    each within the tolerance of the version before, cannot add up.

    Args:
      input_dict: `model`: the candidate, its own baseline when nothing is
        deployed; `examples`: the augmented examples whose eval split scores
        the versions.
      output_dict: `baseline_model`: a Model whose Format-Serving/ holds the
        baseline SavedModel; its `deployed_version` property is the version
        copied ('' for the candidate), `newest_version` the newest deployed
        one, which the pusher compares and swaps.
      exec_properties: `serving_dir` (the push destination); `deployed_versions`
        (only a cache key: the versions are read from serving_dir here);
        `code_fingerprint` (only a cache key).
    """
    candidate = artifact_utils.get_single_instance(input_dict[keys.MODEL_KEY])
    examples = artifact_utils.get_single_instance(input_dict[keys.EXAMPLES_KEY])
    baseline = artifact_utils.get_single_instance(output_dict[keys.BASELINE_MODEL_KEY])
    serving_dir = exec_properties[keys.SERVING_DIR_KEY]
    versions = serving_dir_lib.versions(serving_dir)
    # replace_tree: a retried execution finds its earlier copy there.
    destination = path_utils.serving_model_path(baseline.uri)
    if not versions:
      logging.info('Nothing deployed in %s: the candidate is its own baseline.', serving_dir)
      serving_dir_lib.replace_tree(path_utils.serving_model_path(candidate.uri), destination)
      chosen = ''
    else:
      scores = score_versions(
          serving_dir, servable_versions(serving_dir, versions),
          os.path.join(artifact_utils.get_split_uri([examples], features.EVAL_SPLIT), '*'))
      chosen = best_version(scores)
      logging.info('Baseline: deployed version %s, the best of %s by mean PSNR on this '
                   "run's eval images", chosen,
                   ', '.join(f'{v} ({s:.3f} dB)' for v, s in scores.items()))
      serving_dir_lib.replace_tree(os.path.join(serving_dir, chosen), destination)
    baseline.set_string_custom_property(keys.DEPLOYED_VERSION_KEY, chosen)
    baseline.set_string_custom_property(keys.NEWEST_VERSION_PROPERTY,
                                        versions[-1] if versions else '')
