# The two commands of the README:
#   make run    set up, then run the pipeline on the real data with the defaults
#   make test   set up, then run the tests
# ARGS passes flags to local_runner.py, e.g. make run ARGS="--epochs=1".
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.requirements-installed
ARGS ?=
PYTEST_ARGS ?=

.PHONY: setup run test bench compile
setup: $(STAMP)

$(STAMP): requirements.txt scripts/setup.sh
	scripts/setup.sh
	touch $@

run: $(STAMP)
	$(PY) local_runner.py $(ARGS)

# Both cores: test files spread over two workers, each file on one (its module fixtures
# run once).
test: $(STAMP)
	$(PY) -m pytest tests -n 2 --dist loadfile $(PYTEST_ARGS)

bench: $(STAMP)
	$(PY) -m bench.noise_throughput
	$(PY) -m bench.train_throughput
	$(PY) -m bench.eval_throughput
	$(PY) -m bench.pipeline_e2e --rounds=2
	$(PY) -m bench.scale
	$(PY) -m bench.warm_start
	$(PY) -m bench.drift_thresholds

compile: $(STAMP)
	$(PY) kubeflow_runner.py $(ARGS)
