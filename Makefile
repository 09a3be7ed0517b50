# Surge: `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
TOOLS := .venv-tools
export UV_PYTHON_DOWNLOADS := never
export UV_COMPILE_BYTECODE := 1
export TZ := UTC

STACK ?= surge
PARAMS ?=

.PHONY: help system-deps install lock lint test demo bench build deploy delete clean

help: ## List the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

$(BIN)/surge: pyproject.toml requirements-dev.lock
	$(PYTHON) -m pip install --quiet --disable-pip-version-check uv
	$(PYTHON) -m uv venv --quiet --allow-existing --python $(PYTHON) $(VENV)
	$(PYTHON) -m uv pip install --quiet --python $(BIN)/python -r requirements-dev.lock
	$(PYTHON) -m uv pip install --quiet --python $(BIN)/python --no-deps -e .
	@touch $@

SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

system-deps: ## Debian's graphviz (the `dot` binary behind `surge graph`), if missing
	@command -v dot >/dev/null || { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq graphviz >/dev/null; }

install: system-deps $(BIN)/surge ## Create .venv and install Surge with its tools (uv, pinned by requirements-dev.lock)

lock: ## Re-pin requirements-dev.lock from pyproject.toml
	$(PYTHON) -m uv pip compile --quiet --python-version 3.11 --extra dev pyproject.toml -o requirements-dev.lock

lint: install ## ruff (lint + format check), mypy strict on functions/, cfn-lint on infra/
	$(BIN)/ruff check functions cli tests
	$(BIN)/ruff format --check functions cli tests
	$(BIN)/mypy functions
	$(BIN)/cfn-lint infra/template.yaml

test: lint ## Lint, then the whole pytest suite
	$(BIN)/pytest

$(TOOLS)/sam/bin/sam:
	$(PYTHON) -m pip install --quiet --disable-pip-version-check uv
	$(PYTHON) -m uv venv --quiet --allow-existing --python $(PYTHON) $(TOOLS)/sam
	$(PYTHON) -m uv pip install --quiet --python $(TOOLS)/sam/bin/python "aws-sam-cli==1.170.0"

SAM := $(TOOLS)/sam/bin/sam
SAMCONFIG := --config-file samconfig.toml

build: $(SAM) ## sam build (a plain copy of functions/: dependencies come from the Powertools layer)
	cd infra && ../$(SAM) build $(SAMCONFIG)

deploy: build ## sam deploy with infra/samconfig.toml; e.g. make deploy PARAMS="ClusterName=prod ServiceName=api LoadBalancerFullName=app/alb/123"
	@$(BIN)/python -c "import boto3; print('deploying as', boto3.client('sts').get_caller_identity()['Arn'])"
	cd infra && ../$(SAM) deploy $(SAMCONFIG) $(if $(PARAMS),--parameter-overrides $(PARAMS),)

delete: $(SAM) ## sam delete the stack
	cd infra && ../$(SAM) delete $(SAMCONFIG) --no-prompts

clean: ## Remove the virtual environments and build output
	rm -rf $(VENV) $(TOOLS) .aws-sam
