# The image every Kubeflow component runs in: TFX 1.16 plus this repository,
# importable by module path (executors, the Trainer's run_fn, the metrics).
#   docker build -t REGISTRY/denoise-pipeline:TAG . && docker push REGISTRY/denoise-pipeline:TAG
#   python kubeflow_runner.py --image=REGISTRY/denoise-pipeline:TAG --pipeline_root=gs://...
# Not built here: no access to the base image's registry.
FROM tensorflow/tfx:1.16.0

WORKDIR /pipeline
COPY . /pipeline
ENV PYTHONPATH="/pipeline:${PYTHONPATH}"

# The report draws with matplotlib; install the pinned version only if the base lacks it,
# so that nothing the base resolved is upgraded.
RUN python -c 'import matplotlib' 2>/dev/null \
    || python -m pip install --no-cache-dir "$(grep '^matplotlib==' requirements.txt)"
