"""Where the four Fashion-MNIST IDX files are looked for, in order (no TensorFlow: the runners check it first).

candidates() is the order: --data_dir, $FASHION_MNIST_DIR, the Keras cache,
Debian's dataset-fashion-mnist package. idx.resolve_data_dir() tries them
through TensorFlow's file systems (gs:// included), else downloads into the
Keras cache; first_data_dir() is what a runner can know before importing
TensorFlow.
"""
import os

from components import features

DATA_DIR_ENV = 'FASHION_MNIST_DIR'
KERAS_CACHE_DIR = os.path.join('~', '.keras', 'datasets', 'fashion-mnist')
DEBIAN_DATA_DIR = '/usr/share/datasets/fashion-mnist'
DOWNLOAD_BASE_URL = 'https://storage.googleapis.com/tensorflow/tf-keras-datasets/'

# split -> (images file stem, labels file stem); each file is `stem` or `stem.gz`.
FILE_STEMS = {
    features.TRAIN_SPLIT: ('train-images-idx3-ubyte', 'train-labels-idx1-ubyte'),
    features.EVAL_SPLIT: ('t10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte'),
}
ALL_STEMS = tuple(stem for pair in FILE_STEMS.values() for stem in pair)
EXPLICIT_ORIGIN = '--data_dir'
# A data directory of spans holds span-1/, span-2/, ... (components/ingestion/spans.py).
SPAN_DIR_PREFIX = 'span-'


def candidates(data_dir=None):
  """(origin, directory or None when not set) in the order they are tried."""
  return [(EXPLICIT_ORIGIN, data_dir),
          (f'${DATA_DIR_ENV}', os.environ.get(DATA_DIR_ENV)),
          ('Keras cache', os.path.expanduser(KERAS_CACHE_DIR)),
          ('Debian package dataset-fashion-mnist', DEBIAN_DATA_DIR)]


def missing_files_message(data_dir, missing_stems):
  """The error for an explicit --data_dir that lacks some of the four files."""
  return (f'{EXPLICIT_ORIGIN} {data_dir}: missing {", ".join(missing_stems)} '
          '(.gz or uncompressed)')


def has_span_dirs(names):
  """Whether a directory listing is of a data directory of spans."""
  return any(name.startswith(SPAN_DIR_PREFIX) for name in names)


def _missing_local_files(directory):
  """The stems missing from a directory of the four files; none for a directory of spans."""
  if os.path.isdir(directory) and has_span_dirs(os.listdir(directory)):
    return []   # its layout is checked with the spans it holds (spans.py)
  return [stem for stem in ALL_STEMS
          if not any(os.path.isfile(os.path.join(directory, stem + suffix))
                     for suffix in ('.gz', ''))]


def first_data_dir(data_dir=None):
  """The data directory as far as it is known without TensorFlow, or None: a download.

  That is the first candidate that is remote (gs://..., read later through
  TensorFlow's file systems) or a local directory of the four files or of
  span directories (their content is validated by the ingestion step). Raises ValueError when
  --data_dir is local and lacks them: an explicit directory is never passed
  over.
  """
  for origin, directory in candidates(data_dir):
    if not directory:
      continue
    if '://' in directory:
      return directory
    missing = _missing_local_files(directory)
    if not missing:
      return os.path.abspath(directory)
    if origin == EXPLICIT_ORIGIN:
      if not os.path.isdir(directory):
        raise ValueError(f'{EXPLICIT_ORIGIN} {directory}: no such directory')
      raise ValueError(missing_files_message(directory, missing))
  return None
