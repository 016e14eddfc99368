"""DenoiseReport's page and scalar metrics, and how it fills the artifacts the KFP UI renders."""
import base64
import html.parser
import os

from google.protobuf import json_format
from kfp.pipeline_spec import pipeline_spec_pb2
import numpy as np
import pytest
from tfx.orchestration.kubeflow.v2 import compiler_utils
from tfx.orchestration.kubeflow.v2.container import kubeflow_v2_entrypoint_utils

from components import keys
from components.report import executor
from components.report import report
import system

PNG_SIGNATURE = b'\x89PNG\r\n\x1a\n'
HOSTILE = '<script>alert("x")</script> & <b>'
SUMMARY = {
    'noise_factor': 0.2,
    'model': {'psnr': 22.014, 'ssim': 0.7712, 'mse': 0.006891},
    'noisy_input': {'psnr': 15.97, 'ssim': 0.538, 'mse': 0.0255},
    'psnr_gain': 6.044,
    'baseline': {'psnr': 22.5, 'ssim': 0.78, 'mse': 0.0061},
    'baseline_version': '1795553012',
    'per_class': {
        'label=1 (Trouser)': {'model': {'psnr': 24.25, 'ssim': 0.85, 'mse': 0.004},
                              'noisy_input': {'psnr': 16.5, 'ssim': 0.5, 'mse': 0.02}},
        'label=0 (T-shirt/top)': {'model': {'psnr': 21.5, 'ssim': 0.75, 'mse': 0.007},
                                  'noisy_input': {'psnr': 15.75, 'ssim': 0.55, 'mse': 0.026}},
    },
    'blessed': False,
    'reasons': ['denoised_psnr change vs baseline: -0.49 < -0.1', f'psnr_gain {HOSTILE}'],
    'pushed': False,
    'push_reason': f'not blessed: {HOSTILE}',
    'pushed_model_dir': None,
}
SWEEP = [{'noise_factor': f, 'images': 1000, 'model_psnr': 23.0 - 5 * f,
          'noisy_psnr': 20.0 - 20 * f, 'model_ssim': 0.8 - f / 2, 'noisy_ssim': 0.7 - f}
         for f in (0.1, 0.2, 0.3)]


class _Page(html.parser.HTMLParser):
  """What a browser would make of the page: tags, image sources, table rows, text."""

  def __init__(self, text):
    super().__init__()
    self.tags, self.images, self.rows, self.items, self.text = [], [], [], [], []
    self._cells = None
    self._in_cell = False
    self.feed(text)

  def handle_starttag(self, tag, attrs):
    self.tags.append(tag)
    if tag == 'img':
      self.images.append(dict(attrs)['src'])
    elif tag == 'tr':
      self._cells = []
      self.rows.append(self._cells)
    elif tag in ('td', 'th'):
      self._cells.append('')
      self._in_cell = True
    elif tag == 'li':
      self.items.append('')

  def handle_endtag(self, tag):
    if tag in ('td', 'th'):
      self._in_cell = False

  def handle_data(self, data):
    self.text.append(data)
    if self.tags and self.tags[-1] == 'li':
      self.items[-1] += data
    elif self._in_cell:
      self._cells[-1] += data

  def row(self, first_cell):
    [row] = [r for r in self.rows if r and r[0] == first_cell]
    return row


@pytest.fixture(scope='module')
def pngs():
  images = np.linspace(0, 1, 3 * 28 * 28, dtype=np.float32).reshape(3, 28, 28, 1)
  return report.plot_grid(images, images, images), report.plot_robustness(SWEEP)


@pytest.fixture(scope='module')
def page(pngs):
  return report.render_html(SUMMARY, SWEEP, *pngs)


def test_page_embeds_the_grid_and_the_robustness_curve_as_png_data(pngs, page):
  sources = _Page(page).images
  assert len(sources) == 2
  prefix = 'data:image/png;base64,'
  assert all(src.startswith(prefix) for src in sources)
  decoded = [base64.b64decode(src[len(prefix):], validate=True) for src in sources]
  assert decoded == list(pngs)
  assert all(png.startswith(PNG_SIGNATURE) for png in decoded)


def test_page_states_the_decision_reasons_and_metrics(page):
  parsed = _Page(page)
  assert 'Not blessed:' in parsed.text
  assert parsed.items == SUMMARY['reasons']
  assert f'Not pushed: not blessed: {HOSTILE}' in ''.join(parsed.text)
  assert parsed.row('model') == ['model', '22.01', '0.771', '0.00689']
  assert parsed.row('noisy input') == ['noisy input', '15.97', '0.538', '0.02550']
  assert parsed.row('deployed model (version 1795553012)')[1:] == ['22.50', '0.780', '0.00610']
  assert 'PSNR gain over the noisy input: +6.04 dB' in parsed.text


def test_page_has_one_row_per_class_with_its_gain(page):
  parsed = _Page(page)
  header = ['class', 'PSNR (dB)', 'SSIM', 'MSE', 'noisy PSNR (dB)', 'gain (dB)']
  start = parsed.rows.index(header)
  assert parsed.rows[start + 1:start + 3] == [
      ['label=0 (T-shirt/top)', '21.50', '0.750', '0.00700', '15.75', '+5.75'],
      ['label=1 (Trouser)', '24.25', '0.850', '0.00400', '16.50', '+7.75']]
  assert parsed.row('0.30') == ['0.30', '21.50', '14.00', '0.650', '0.400']


def test_page_escapes_every_text(page):
  parsed = _Page(page)
  assert 'script' not in parsed.tags
  assert parsed.tags.count('b') == 1   # the decision's own, none from a reason
  assert parsed.items[1].endswith(HOSTILE)   # shown as text


def test_blessed_and_pushed_page_names_the_version(pngs):
  pushed_dir = '/serving/1795553012'
  summary = dict(SUMMARY, blessed=True, reasons=[], pushed=True, push_reason='blessed',
                 pushed_model_dir=pushed_dir, baseline=None, baseline_version=None)
  parsed = _Page(report.render_html(summary, SWEEP, *pngs))
  assert 'Blessed.' in parsed.text and parsed.items == []
  assert 'Pushed to ' in parsed.text and pushed_dir in parsed.text
  assert not [r for r in parsed.rows if r and r[0].startswith('deployed model')]


def test_scalar_metrics_are_flat_floats_and_0_or_1_decisions():
  assert report.scalar_metrics(SUMMARY) == {
      'psnr': 22.014, 'ssim': 0.7712, 'mse': 0.006891,
      'noisy_psnr': 15.97, 'noisy_ssim': 0.538, 'noisy_mse': 0.0255,
      'baseline_psnr': 22.5, 'baseline_ssim': 0.78, 'baseline_mse': 0.0061,
      'psnr_gain': 6.044, 'blessed': 0, 'pushed': 0}
  first_run = report.scalar_metrics(dict(SUMMARY, baseline=None, blessed=True, pushed=True))
  assert not [k for k in first_run if k.startswith('baseline_')]
  assert (first_run['blessed'], first_run['pushed']) == (1, 1)
  assert all(type(v) is int for k, v in first_run.items() if k in ('blessed', 'pushed'))


def _container_outputs(uri_root):
  """The report's UI outputs as TFX's Kubeflow v2 entrypoint builds them from the ExecutorInput."""
  executor_input = pipeline_spec_pb2.ExecutorInput()
  for key, artifact_class in ((keys.METRICS_KEY, system.Metrics),
                              (keys.HTML_REPORT_KEY, system.HTML)):
    runtime_artifact = executor_input.outputs.artifacts[key].artifacts.add()
    runtime_artifact.name = f'projects/p/artifacts/{key}'
    runtime_artifact.uri = f'{uri_root}/run-1/denoisereport/{key}'   # as KFP's driver names it
    runtime_artifact.type.instance_schema = compiler_utils.get_artifact_schema(artifact_class)
  name_from_id = {}
  outputs = kubeflow_v2_entrypoint_utils.parse_raw_artifact_dict(
      executor_input.outputs.artifacts, name_from_id)
  return outputs, name_from_id


def test_on_kubeflow_the_page_is_the_file_at_the_uri_and_metrics_the_metadata(tmp_path, page):
  report_dir = tmp_path / 'report'
  report_dir.mkdir()
  (report_dir / report.HTML_NAME).write_text(page, encoding='utf-8')
  outputs, name_from_id = _container_outputs(tmp_path / 'root')
  [metrics], [html_report] = outputs[keys.METRICS_KEY], outputs[keys.HTML_REPORT_KEY]
  assert not os.path.exists(html_report.uri)

  executor.publish_for_kfp_ui(SUMMARY, str(report_dir), metrics, html_report)

  with open(html_report.uri, encoding='utf-8') as f:   # the URI itself, not a directory
    assert f.read() == page
  # What the launcher reads back and records as the artifacts' custom properties.
  executor_output = json_format.MessageToDict(pipeline_spec_pb2.ExecutorOutput(
      artifacts=kubeflow_v2_entrypoint_utils.translate_executor_output(outputs, name_from_id)))
  [recorded] = executor_output['artifacts'][keys.METRICS_KEY]['artifacts']
  assert recorded['uri'] == metrics.uri
  assert recorded['metadata'] == {
      'psnr': 22.014, 'ssim': 0.7712, 'mse': 0.006891,
      'noisy_psnr': 15.97, 'noisy_ssim': 0.538, 'noisy_mse': 0.0255,
      'baseline_psnr': 22.5, 'baseline_ssim': 0.78, 'baseline_mse': 0.0061,
      'psnr_gain': 6.044, 'blessed': 0.0, 'pushed': 0.0}
  [html_recorded] = executor_output['artifacts'][keys.HTML_REPORT_KEY]['artifacts']
  assert html_recorded['uri'] == html_report.uri
