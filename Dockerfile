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

# s3:// locations (AWS S3, and MinIO through its S3 endpoint; see pipeline/storage.py):
# tf.io.gfile reaches them through tensorflow-io built for TF 2.16, Beam's stages through
# boto3, at the versions requirements.txt pins. The base's tfx[docker-image] extra asks for
# tensorflow-io<=0.24 (built for TF 2.8: no s3:// with TF 2.16), so pip replaces it and
# reports that pin. tensorflow-io 0.37.1 aborts a process that used s3:// as it exits
# (status 134, after the work is done; tensorflow/io issue 2039): every task's command,
# compiled into the package, is `python -m pipeline.container_entrypoint`, which imports
# tensorflow_io, runs TFX's executor entrypoint and leaves with os._exit.
RUN python -m pip install --no-cache-dir $(grep -E \
    '^(tensorflow-io|tensorflow-io-gcs-filesystem|boto3|botocore|s3transfer|jmespath)==' \
    requirements.txt)
