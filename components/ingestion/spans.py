"""Pure core of the data layout: which spans a data directory holds, and which a run takes.

A data directory holds either the four IDX files (one span, numbered 0) or
span directories `span-1/`, `span-2/`, ... (positive integers, gaps
allowed), each holding the four IDX files: TFX's FileBasedExampleGen layout
with the pattern `span-{SPAN}/*`. A run takes the latest K spans, TFX's
RangeConfig.rolling_range with num_spans=K: it trains on their train files
and evaluates on the latest span's t10k files.

No TensorFlow here: the runners check the layout before importing it. The
file system comes as two functions, os's for a local directory, tf.io.gfile's
for any (gs://, s3://).
"""
import os
import re

from components.ingestion import data_sources

SPAN_DIR_PREFIX = data_sources.SPAN_DIR_PREFIX
FLAT_SPAN = 0   # the span of a directory that holds the files themselves
_SPAN_DIR = re.compile(r'span-([1-9][0-9]*)')
_IDX_NAME = re.compile('(' + '|'.join(re.escape(stem) for stem in data_sources.ALL_STEMS) +
                       r')(\.gz)?')


class LayoutError(ValueError):
  """A data directory that is neither four IDX files nor span directories of them."""


def span_dir_name(span):
  return f'{SPAN_DIR_PREFIX}{span}'


def span_dir(data_dir, span):
  """The directory of a span: data_dir itself for span 0."""
  return data_dir if span == FLAT_SPAN else os.path.join(data_dir, span_dir_name(span))


def span_numbers_text(span_numbers):
  """'1,2': span numbers as an artifact property holds them."""
  return ','.join(str(span) for span in span_numbers)


def parse_span_numbers(text):
  return [int(span) for span in text.split(',')] if text else []


def find_spans(data_dir, listdir=os.listdir, isdir=os.path.isdir):
  """{span number: its directory} of data_dir, or LayoutError naming what is wrong."""
  names = sorted(name.rstrip('/') for name in listdir(data_dir))
  if not data_sources.has_span_dirs(names):
    return {FLAT_SPAN: data_dir}
  span_names = [name for name in names if name.startswith(SPAN_DIR_PREFIX)]
  loose = [name for name in names if _IDX_NAME.fullmatch(name)]
  if loose:
    raise LayoutError(f'{data_dir}: IDX files beside span directories ({", ".join(loose)}): '
                      f'move them into a {SPAN_DIR_PREFIX}N/ directory')
  spans = {}
  for name in span_names:
    match = _SPAN_DIR.fullmatch(name)
    if not match:
      raise LayoutError(f'{os.path.join(data_dir, name)}: not a span directory: the name '
                        f'must be {SPAN_DIR_PREFIX}N with N a positive integer, no leading zero')
    path = os.path.join(data_dir, name)
    if not isdir(path):
      raise LayoutError(f'{path}: a span must be a directory of the four IDX files')
    spans[int(match.group(1))] = path
  return spans


def validate_num_spans(num_spans):
  """Raises ValueError unless num_spans (--spans) is an integer >= 1."""
  if isinstance(num_spans, bool) or not isinstance(num_spans, int) or num_spans < 1:
    raise ValueError(f'spans must be an integer >= 1, got {num_spans!r}')


def select_spans(spans, num_spans, data_dir):
  """The latest num_spans span numbers of {span: directory}, oldest first."""
  validate_num_spans(num_spans)
  if num_spans > len(spans):
    raise LayoutError(f'--spans={num_spans}, but {data_dir} holds {len(spans)} span(s): '
                      f'{describe(sorted(spans))}')
  return sorted(spans)[-num_spans:]


def missing_files(span_dir, exists):
  """The stems of the four IDX files that span_dir lacks (as `stem` or `stem.gz`)."""
  return [stem for stem in data_sources.ALL_STEMS
          if not any(exists(os.path.join(span_dir, stem + suffix)) for suffix in ('.gz', ''))]


def check_complete(span_dirs, exists):
  """LayoutError naming the first span directory that lacks one of the four files."""
  for span_dir in span_dirs:
    missing = missing_files(span_dir, exists)
    if missing:
      raise LayoutError(f'{span_dir}: missing {", ".join(missing)} (.gz or uncompressed)')


def spans_to_use(data_dir, num_spans, listdir=os.listdir, isdir=os.path.isdir,
                 exists=os.path.exists):
  """{span number: directory} of the latest num_spans complete spans, oldest first.

  LayoutError, one line naming the problem, for a directory that is neither
  layout, a span that lacks a file, or more spans asked for than there are.
  """
  available = find_spans(data_dir, listdir, isdir)
  chosen = {span: available[span] for span in select_spans(available, num_spans, data_dir)}
  check_complete(chosen.values(), exists)
  return chosen


def describe(span_numbers):
  """'span 2', 'spans 1, 2': how the console and errors name spans."""
  numbers = ', '.join(str(s) for s in span_numbers)
  return f'span {numbers}' if len(span_numbers) == 1 else f'spans {numbers}'
