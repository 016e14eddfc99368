"""The documentation: the README's size, every relative link, and the flags tables against the runners.

What is checked, in README.md and every docs/*.md:

- README.md is at most 250 lines, shows `make run` and `make test`, and links every
  page in docs/; each page starts with a `# ` title, then one paragraph.
- Every relative link or image, inline (`[text](target)`) or by reference
  (`[ref]: target`), outside code blocks and code spans, points to a file or
  directory that exists; a `#anchor` (alone, or after a .md target) names a heading
  of that page, slugged as GitHub does. Links with a scheme (https:, mailto:) are
  not followed.
- "The flags table" of a runner is the first markdown table under the heading
  `## Flags of `local_runner.py`` in docs/running_locally.md, and under
  `## Flags of `kubeflow_runner.py`` in docs/kubeflow.md. Each body row's first
  cell is one flag written as `--name` in backticks. Its flags must be exactly the
  flags the runner defines: neither stale rows nor missing flags, no row twice.
- The flags a runner defines are read at test time, not listed here: a fresh
  Python process imports the runner as a module (as its --help does: no
  TensorFlow) and lists every flag registered by a module of this repository
  (local_runner.py, kubeflow_runner.py, pipeline/flags.py, or any other project
  module they import), leaving out absl's and TFX's own. A second test checks that
  this is the list `<runner> --help` prints, and that the import loaded no
  TensorFlow.
- Every other table in the docs whose first column is headed `flag` may name
  defined flags only (of either runner).
- The pipeline parameters listed in docs/kubeflow.md (the backticked names after
  "The parameters are:") are exactly configs.RUNTIME_PARAMETER_TYPES.
"""
import functools
import json
import os
import re
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
README = os.path.join(ROOT, 'README.md')
DOCS_DIR = os.path.join(ROOT, 'docs')
README_MAX_LINES = 250

# runner module -> (docs page, heading of its flags table)
FLAGS_TABLES = {
    'local_runner': ('running_locally.md', '## Flags of `local_runner.py`'),
    'kubeflow_runner': ('kubeflow.md', '## Flags of `kubeflow_runner.py`'),
}
PARAMETERS_PAGE = 'kubeflow.md'
PARAMETERS_INTRO = 'The parameters are:'

FENCE = re.compile(r'^\s*(```|~~~)')
CODE_SPAN = re.compile(r'(`+)(.+?)\1')
INLINE_LINK = re.compile(r'!?\[(?:[^\[\]]|\[[^\[\]]*\])*\]\(\s*<?([^)\s>]*)>?(?:\s+"[^"]*")?\s*\)')
REFERENCE_DEFINITION = re.compile(r'^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+"[^"]*")?\s*$')
SCHEME = re.compile(r'^[A-Za-z][A-Za-z0-9+.-]*:')
HEADING = re.compile(r'^(#{1,6})\s+(.*?)\s*#*\s*$')
FLAG_CELL = re.compile(r'^`--([A-Za-z0-9_]+)`$')
HELP_FLAG_LINE = re.compile(r'^  --(?:\[no\])?([A-Za-z0-9_]+):')

# Run in a fresh process: imports a runner as --help does and prints, as JSON, the
# flags that modules of the repository define, and whether TensorFlow got loaded.
LIST_FLAGS = r'''
import json, os, sys, warnings
warnings.filterwarnings('ignore')
root = os.path.abspath(sys.argv[1])
sys.path.insert(0, root)
__import__(sys.argv[2])
from absl import flags

def is_project(module_name):
  path = getattr(sys.modules.get(module_name), '__file__', None)
  if not path:
    return False
  rel = os.path.relpath(os.path.abspath(path), root)
  return not rel.startswith(os.pardir) and not rel.startswith('.') and (
      'site-packages' not in rel and 'dist-packages' not in rel)

defined = sorted({flag.name
                  for module_name, module_flags in flags.FLAGS.flags_by_module_dict().items()
                  if is_project(module_name) for flag in module_flags})
print(json.dumps({'flags': defined, 'tensorflow': 'tensorflow' in sys.modules}))
'''


def _doc_paths():
  return [README] + sorted(
      os.path.join(DOCS_DIR, name) for name in os.listdir(DOCS_DIR) if name.endswith('.md'))


def _read(path):
  with open(path, encoding='utf-8') as f:
    return f.read()


def _prose_lines(text):
  """(line number, line) outside fenced code blocks."""
  in_fence = False
  for number, line in enumerate(text.split('\n'), 1):
    if FENCE.match(line):
      in_fence = not in_fence
      continue
    if not in_fence:
      yield number, line


def _slug(heading_text):
  """GitHub's anchor for a heading: text only, lower case, punctuation dropped, spaces to '-'."""
  text = re.sub(r'!?\[([^\]]*)\]\([^)]*\)', r'\1', heading_text)  # links: their text
  text = text.replace('`', '').strip().lower()
  text = re.sub(r'[^\w\- ]', '', text)
  return text.replace(' ', '-')


@functools.lru_cache(maxsize=None)
def _anchors(path):
  anchors, seen = set(), {}
  for _, line in _prose_lines(_read(path)):
    match = HEADING.match(line)
    if match:
      slug = _slug(match.group(2))
      count = seen.get(slug, 0)
      seen[slug] = count + 1
      anchors.add(slug if count == 0 else f'{slug}-{count}')
  return anchors


def _links(path):
  """(line number, target) of every inline link, image and reference definition."""
  for number, line in _prose_lines(_read(path)):
    definition = REFERENCE_DEFINITION.match(line)
    if definition:
      yield number, definition.group(1)
      continue
    without_code = CODE_SPAN.sub('', line)
    for match in INLINE_LINK.finditer(without_code):
      yield number, match.group(1)


def _broken_link(path, target):
  """Why target, linked from path, is broken; None if it is not."""
  if not target:
    return 'empty link'
  if SCHEME.match(target):
    return None
  file_part, _, anchor = target.partition('#')
  if file_part.startswith('/'):
    return 'absolute path: write it relative to the page'
  linked = os.path.normpath(os.path.join(os.path.dirname(path), file_part)) if file_part else path
  if not os.path.exists(linked):
    return f'no such file: {os.path.relpath(linked, ROOT)}'
  if anchor and linked.endswith('.md') and anchor not in _anchors(linked):
    return f'no heading #{anchor} in {os.path.relpath(linked, ROOT)}'
  return None


def _tables(text):
  """(heading above it, header cells, body rows of cells) of each markdown table."""
  heading, table = None, None
  for _, line in list(_prose_lines(text)) + [(0, '')]:
    stripped = line.strip()
    if stripped.startswith('|'):
      cells = [cell.strip() for cell in stripped.strip('|').split('|')]
      if table is None:
        table = (heading, cells, [])
      elif not all(re.fullmatch(r':?-{3,}:?', cell) for cell in cells):
        table[2].append(cells)
      continue
    if table is not None:
      yield table
      table = None
    match = HEADING.match(line)
    if match:
      heading = line.strip()


def _table_flags(rows, where):
  """The flag names of a flags table's rows; each first cell must be one `--name`."""
  names = []
  for cells in rows:
    match = FLAG_CELL.match(cells[0])
    assert match, f'{where}: the first cell {cells[0]!r} is not one flag written as `--name`'
    names.append(match.group(1))
  return names


@functools.lru_cache(maxsize=None)
def _defined(runner):
  """{'flags': the flags the runner's project modules define, 'tensorflow': imported?}."""
  result = subprocess.run([sys.executable, '-c', LIST_FLAGS, ROOT, runner],
                          cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)
  assert result.returncode == 0, f'importing {runner} failed:\n{result.stderr}'
  return json.loads(result.stdout.strip().splitlines()[-1])


def test_readme_is_short_and_shows_the_two_commands():
  text = _read(README)
  lines = text.count('\n') + (0 if text.endswith('\n') else 1)
  assert lines <= README_MAX_LINES, f'README.md has {lines} lines: at most {README_MAX_LINES}'
  for command in ('make run', 'make test'):
    assert re.search(rf'^{command}\b', text, re.MULTILINE), f'README.md lost `{command}`'


def test_readme_links_every_docs_page():
  linked = {os.path.normpath(os.path.join(ROOT, target.partition('#')[0]))
            for _, target in _links(README)}
  missing = [os.path.relpath(path, ROOT) for path in _doc_paths()[1:] if path not in linked]
  assert not missing, f'README.md does not link: {missing}'


@pytest.mark.parametrize('path', _doc_paths()[1:], ids=os.path.basename)
def test_each_page_starts_with_a_title_and_one_paragraph(path):
  blocks = [block.strip() for block in re.split(r'\n\s*\n', _read(path).strip())]
  assert blocks[0].startswith('# ') and '\n' not in blocks[0], (
      f'{os.path.relpath(path, ROOT)} must start with one `# ` title line')
  assert len(blocks) > 1 and not re.match(r'(#|\||```|~~~|[-*] |\d+\. |!\[)', blocks[1]), (
      f'{os.path.relpath(path, ROOT)}: the title must be followed by a paragraph saying what '
      'the page answers')


@pytest.mark.parametrize('path', _doc_paths(), ids=os.path.basename)
def test_relative_links_point_to_existing_files_and_headings(path):
  broken = []
  for number, target in _links(path):
    why = _broken_link(path, target)
    if why:
      broken.append(f'{os.path.relpath(path, ROOT)}:{number}: ({target}) {why}')
  assert not broken, 'broken links:\n' + '\n'.join(broken)


@pytest.mark.parametrize('runner', sorted(FLAGS_TABLES))
def test_flags_table_lists_exactly_the_flags_the_runner_defines(runner):
  page, heading = FLAGS_TABLES[runner]
  path = os.path.join(DOCS_DIR, page)
  tables = [rows for above, _, rows in _tables(_read(path)) if above == heading]
  assert tables, f'docs/{page}: no table under the heading {heading!r}'
  documented = _table_flags(tables[0], f'docs/{page}, {heading}')
  twice = sorted({name for name in documented if documented.count(name) > 1})
  defined = set(_defined(runner)['flags'])
  missing = sorted(defined - set(documented))
  stale = sorted(set(documented) - defined)
  assert not (missing or stale or twice), (
      f'docs/{page}, table under {heading!r}, against the flags {runner}.py defines:\n'
      f'  missing rows (defined, not documented): {missing}\n'
      f'  stale rows (documented, not defined): {stale}\n'
      f'  rows given twice: {twice}')


@pytest.mark.parametrize('runner', sorted(FLAGS_TABLES))
def test_the_defined_flags_are_what_help_lists_and_help_loads_no_tensorflow(runner):
  defined = _defined(runner)
  assert not defined['tensorflow'], f'importing {runner}.py loads TensorFlow: --help would be slow'
  result = subprocess.run([sys.executable, f'{runner}.py', '--help'],
                          cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)
  # absl's --help exits with status 1 after printing the help.
  assert 'Try --helpfull' in result.stdout, result.stdout + result.stderr
  listed = sorted({match.group(1) for match in map(HELP_FLAG_LINE.match, result.stdout.split('\n'))
                   if match})
  assert listed == defined['flags']


def test_every_other_flags_table_names_defined_flags_only():
  defined = set()
  for runner in FLAGS_TABLES:
    defined.update(_defined(runner)['flags'])
  stale = []
  for path in _doc_paths():
    for above, header, rows in _tables(_read(path)):
      if header[0].lower() != 'flag':
        continue
      where = f'{os.path.relpath(path, ROOT)}, table under {above!r}'
      stale += [f'{where}: --{name}' for name in _table_flags(rows, where) if name not in defined]
  assert not stale, 'flags no runner defines:\n' + '\n'.join(stale)


def test_kubeflow_page_lists_exactly_the_pipeline_parameters():
  from pipeline import configs  # pylint: disable=g-import-not-at-top
  text = _read(os.path.join(DOCS_DIR, PARAMETERS_PAGE))
  match = re.search(re.escape(PARAMETERS_INTRO) + r'\s*\n\s*\n(.+?)\n\s*\n', text, re.DOTALL)
  assert match, f'docs/{PARAMETERS_PAGE}: no list of names after {PARAMETERS_INTRO!r}'
  documented = re.findall(r'`([a-z_]+)`', match.group(1))
  assert sorted(documented) == sorted(configs.RUNTIME_PARAMETER_TYPES), (
      f'docs/{PARAMETERS_PAGE} lists {documented}; pipeline/configs.py has '
      f'{list(configs.RUNTIME_PARAMETER_TYPES)}')
