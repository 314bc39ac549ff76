# Railyard: `make demo` trains the fraud example end to end; `make test` runs every test.
# Both set up what is missing first (the Python virtualenv, Bazel, sample data).
# `make bench` runs the benchmarks, `make lock` re-pins dependencies (requirements.lock, which the
# binaries are built from, and requirements-dev.lock: the test and benchmark tools).

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SAMPLE := sample-data/charges.parquet
DEMO_ROWS ?= 200000
export PIP_CACHE_DIR := $(CURDIR)/.cache/pip
export PIP_DISABLE_PIP_VERSION_CHECK := 1
# torch is pinned to its CPU build; where pip has no local wheel directory configured,
# it comes from the PyTorch CPU index.
TORCH_INDEX ?= https://download.pytorch.org/whl/cpu
# Bazel's outputs and caches stay inside the checkout, for every `bazel` command run in it (tools/bazel).
BAZEL := bazel

.PHONY: venv bazel demo test test-deps test-fast bench lock lock-gpu sample-data clean

venv: $(STAMP)

$(STAMP): requirements.lock requirements-dev.lock pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' || \
		{ echo "Railyard needs Python 3.11; set PYTHON=/path/to/python3.11" >&2; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --require-hashes --no-deps -r requirements.lock -r requirements-dev.lock \
		$$($(BIN)/pip config get global.find-links >/dev/null 2>&1 || [ -n "$$PIP_FIND_LINKS" ] || echo --extra-index-url $(TORCH_INDEX))
	$(BIN)/pip install --quiet --no-deps --no-build-isolation -e .
	touch $@

$(SAMPLE): $(STAMP) workflows/data/charges.py
	$(BIN)/python -m workflows.data.charges --rows $(DEMO_ROWS) --out $@

sample-data: $(SAMPLE)

bazel:
	tools/install_bazel.sh

demo: $(SAMPLE) bazel
	$(BAZEL) run //workflows:fraud_train -- --spec workflows/fraud/spec.json

test-deps:
	tools/install_test_deps.sh

test: $(STAMP) bazel test-deps
	RAILYARD_REQUIRE_POSTGRES=1 $(BIN)/python -m pytest -q --durations=25
	$(BAZEL) test //...

test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow"

bench: $(STAMP) bazel
	$(BIN)/python -m bench.trainer_vs_plain
	$(BIN)/python -m bench.reporting
	$(BIN)/python -m bench.checkpoint
	$(BIN)/python -m bench.checkpoint --subsample 0.8
	$(BIN)/python -m bench.packaging
	$(BIN)/python -m bench.api_vs_mlflow
	$(BIN)/python -m bench.store_scale
	$(BIN)/python -m bench.api_request_profile
	$(BIN)/python -m bench.kube_follow
	$(BIN)/python -m bench.replicas
	$(BIN)/python -m bench.workers

PIP_COMPILE := $(BIN)/pip-compile --quiet --generate-hashes --allow-unsafe --strip-extras \
	--no-emit-index-url --no-emit-find-links

# requirements-dev.in is constrained by requirements.lock, so it is compiled second.
lock: $(STAMP)
	$(BIN)/pip install --quiet pip-tools
	$(PIP_COMPILE) -o requirements.lock requirements.in
	$(PIP_COMPILE) -o requirements-dev.lock requirements-dev.in

lock-gpu: $(STAMP)
	$(BIN)/pip install --quiet pip-tools
	$(PIP_COMPILE) -o requirements-gpu.lock requirements-gpu.in

clean:
	-$(BAZEL) clean --expunge
	rm -rf $(VENV) .cache sample-data railyard-runs railyard-data bench/out .pytest_cache
