"""The curated schema of the ingested examples (schema.pbtxt), written by scripts/curate_schema.py.

Data validation checks each run's data against it (TFX's ImportSchemaGen
imports it), never against a schema inferred from the data it checks.
"""
import os

SCHEMA_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'schema.pbtxt')
# The same file in the Kubeflow image, relative to its working directory (the
# Dockerfile's WORKDIR, where every task starts): the path compiled into the
# package must hold in the container, not on the machine that compiles.
IMAGE_SCHEMA_FILE = os.path.join('components', 'schema', 'schema.pbtxt')
