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
export SAM_CLI_TELEMETRY := 0

STACK ?= surge
PARAMS ?=
SAM := $(TOOLS)/sam/bin/sam
SAMCONFIG := --config-file samconfig.toml
CHECKOV := $(TOOLS)/checkov/bin/checkov

.PHONY: help system-deps install lock lint test demo bench figures build deploy delete clean

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

install: system-deps $(BIN)/surge $(SAM) $(CHECKOV) ## Create .venv (pinned by requirements-dev.lock) and the SAM CLI and checkov venvs

lock: ## Re-pin requirements-dev.lock from pyproject.toml
	$(PYTHON) -m uv pip compile --quiet --python-version 3.11 --extra dev pyproject.toml -o requirements-dev.lock

lint: install ## ruff (lint + format check), mypy strict on functions/, cfn-lint, sam validate --lint, checkov
	$(BIN)/ruff check functions cli tests bench
	$(BIN)/ruff format --check functions cli tests bench
	$(BIN)/mypy functions
	$(BIN)/cfn-lint --include-checks I -- infra/template.yaml
	cd infra && AWS_DEFAULT_REGION=$${AWS_DEFAULT_REGION:-us-east-1} ../$(SAM) validate --lint $(SAMCONFIG)
	$(CHECKOV) --quiet --compact --skip-download --framework cloudformation -f infra/template.yaml

test: lint ## Lint, then the whole pytest suite
	$(BIN)/pytest

demo: install ## Replay the bundled artist-post spike under every policy on local AWS: table + out/artist-post.png
	@mkdir -p out
	$(BIN)/surge replay scenarios/artist-post.json --policy all --plot out/artist-post.png \
		--timeline out/artist-post-timeline.csv | tee out/artist-post.txt
	@echo "plot: out/artist-post.png   timeline: out/artist-post-timeline.csv"

bench: install ## Every bundled scenario under every policy, guess sensitivity, latency worlds, first response, speed
	@mkdir -p out
	$(BIN)/python bench/run.py --json out/bench.json

figures: bench ## make bench, then rewrite the README's figures from out/bench.json
	$(BIN)/python bench/readme.py out/bench.json README.md

$(TOOLS)/sam/bin/sam:
	$(PYTHON) -m pip install --quiet --disable-pip-version-check uv
	$(PYTHON) -m uv venv --quiet --allow-existing --python $(PYTHON) $(TOOLS)/sam
	$(PYTHON) -m uv pip install --quiet --python $(TOOLS)/sam/bin/python "aws-sam-cli==1.170.0"

# checkov pins an old boto3 and sam-cli another: each lives in its own venv.
$(CHECKOV):
	$(PYTHON) -m pip install --quiet --disable-pip-version-check uv
	$(PYTHON) -m uv venv --quiet --allow-existing --python $(PYTHON) $(TOOLS)/checkov
	$(PYTHON) -m uv pip install --quiet --python $(TOOLS)/checkov/bin/python "checkov==3.3.30"

build: $(SAM) ## sam build (a plain copy of functions/: dependencies come from the Powertools layer)
	cd infra && ../$(SAM) build $(SAMCONFIG)

deploy: build ## sam deploy with infra/samconfig.toml; e.g. make deploy PARAMS="ClusterName=prod ServiceName=api LoadBalancerFullName=app/alb/123"
	@$(BIN)/python -c "import boto3; print('deploying as', boto3.client('sts').get_caller_identity()['Arn'])"
	cd infra && ../$(SAM) deploy $(SAMCONFIG) $(if $(PARAMS),--parameter-overrides $(PARAMS),)

delete: $(SAM) ## sam delete the stack
	cd infra && ../$(SAM) delete $(SAMCONFIG) --no-prompts

clean: ## Remove the virtual environments and build output
	rm -rf $(VENV) $(TOOLS) .aws-sam
