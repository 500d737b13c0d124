# The two README commands: `make demo` and `make test`. Only python3 and make are needed first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# The venv is refreshed whenever pyproject.toml changes.
DEPS_HASH := $(shell cat pyproject.toml | $(PYTHON) -c "import hashlib,sys; print(hashlib.sha1(sys.stdin.buffer.read()).hexdigest()[:12])")
RUNTIME_STAMP := $(VENV)/.runtime-$(DEPS_HASH)
DEV_STAMP := $(VENV)/.dev-$(DEPS_HASH)

.PHONY: demo test lint format bench dev validate clean image image-test rehearse

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(RUNTIME_STAMP): $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(DEV_STAMP): $(BIN)/python
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $@ $(RUNTIME_STAMP)

demo: $(RUNTIME_STAMP)  ## install and run the sample workflows on the embedded default
	$(BIN)/klikkflow demo

dev: $(RUNTIME_STAMP)  ## Dagster UI + daemon on http://127.0.0.1:3000
	$(BIN)/klikkflow dev

validate: $(RUNTIME_STAMP)
	$(BIN)/klikkflow validate

# The production shape on this machine (KLIKKFLOW_ENV=production): a private PostgreSQL cluster, an
# S3-compatible server, the gateway, daemons, code servers, run workers and the audit checkpointer.
# The dev extra brings the S3-compatible server (moto[server]); PostgreSQL's server binaries must be
# installed (Debian: postgresql). `klikkflow rehearse --help` for --keep, --workdir, --pg-admin-url.
rehearse: $(DEV_STAMP)  ## two tenants end to end in production mode, checked (about 2.5 minutes)
	$(BIN)/klikkflow rehearse

lint: $(DEV_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: $(DEV_STAMP) lint  ## the whole test suite (needs PostgreSQL and RabbitMQ on localhost)
	$(BIN)/pytest

format: $(DEV_STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: $(DEV_STAMP)  ## every benchmark, each against its baseline
	for b in benchmarks/*.py; do $(BIN)/python $$b || exit 1; done

# The image (not part of `make test`): Docker with BuildKit; without PYTHON_IMAGE the base is
# debootstrapped from the Debian mirror (root, debootstrap), for machines that reach no registry.
IMAGE ?= klikkflow:dev

image:  ## build deploy/Dockerfile as $(IMAGE); PYTHON_IMAGE=python:3.11-slim-bookworm where a registry is reachable
	deploy/image/build_image.sh $(IMAGE)

image-test: $(DEV_STAMP)  ## build $(IMAGE) and run tenant runs in containers shaped like the pods
	KLIKKFLOW_TEST_IMAGE=1 KLIKKFLOW_TEST_IMAGE_TAG=$(IMAGE) $(BIN)/pytest tests/deploy/test_image.py

clean:
	rm -rf $(VENV) .klikkflow .pytest_cache .ruff_cache
