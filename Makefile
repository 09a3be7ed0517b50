# Surge: `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# The distribution's Python (PEP 668 "externally managed" is fine: nothing is ever installed into it): python3.11
# where there is one (Debian 12), else python3 (Ubuntu 24.04: 3.12). Any Python >= 3.11 with its venv module works.
ifeq ($(origin PYTHON),undefined)
PYTHON := $(shell command -v python3.11 2>/dev/null || command -v python3 2>/dev/null || echo python3)
endif
VENV ?= .venv
BIN := $(VENV)/bin
TOOLS ?= .venv-tools
# uv, pinned, in a venv of its own (the bootstrap): it creates and fills every other venv.
UV_VERSION := 0.13.9
UV := $(TOOLS)/uv-$(UV_VERSION)/bin/uv
export UV_PYTHON_DOWNLOADS := never
export UV_COMPILE_BYTECODE := 1
export TZ := UTC
export SAM_CLI_TELEMETRY := 0

STACK ?= surge
PARAMS ?=
SAM := $(TOOLS)/sam/bin/sam
# sam runs from infra/ (samconfig.toml is found beside the template): by absolute path, whatever TOOLS is.
SAM_RUN = cd infra && $(abspath $(SAM))
SAMCONFIG := --config-file samconfig.toml
# Per-stack names come from STACK, never from infra/samconfig.toml: `make deploy STACK=staging` deploys `staging`
# with its artifacts under the S3 prefix `staging/`, and `make delete STACK=staging` deletes that stack only.
STACK_ARGS = --stack-name $(STACK) --s3-prefix $(STACK)
CHECKOV := $(TOOLS)/checkov/bin/checkov

.PHONY: help system-deps install lock lint test demo sandbox bench figures scenario-format build aws-check deploy delete clean

help: ## List the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-15s %s\n", $$1, $$2}'

SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# Debian/Ubuntu ship a Python's venv module (with ensurepip) as python3.X-venv, separately from the interpreter.
VENV_PACKAGE = $$($(PYTHON) -c 'import sys; print("python%d.%d-venv" % sys.version_info[:2])')

system-deps: ## What the distribution must provide, apt-installed if missing: graphviz (`dot`) and python3.X-venv
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null || { echo "error: PYTHON=$(PYTHON)" \
		"is not Python 3.11 or later (or not found): set PYTHON=/path/to/python3.11" >&2; exit 2; }
	@command -v dot >/dev/null || { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq graphviz >/dev/null; }
	@$(PYTHON) -c 'import ensurepip' 2>/dev/null || { $(SUDO) apt-get update -qq && \
		$(SUDO) apt-get install -y -qq "$(VENV_PACKAGE)" >/dev/null; }

# The bootstrap: a venv made by $(PYTHON)'s own venv module, holding only uv. Nothing goes into the system
# interpreter, which Debian 12 and Ubuntu 24.04 mark EXTERNALLY-MANAGED (PEP 668: pip refuses to install there).
$(UV): | system-deps
	@$(PYTHON) -c 'import ensurepip' 2>/dev/null || \
		{ echo "error: $(PYTHON) has no venv module: install $(VENV_PACKAGE) (or run make system-deps)" >&2; exit 2; }
	$(PYTHON) -m venv --clear $(TOOLS)/uv-$(UV_VERSION)
	$(TOOLS)/uv-$(UV_VERSION)/bin/python -m pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"

$(BIN)/surge: pyproject.toml requirements-dev.lock | $(UV)
	$(UV) venv --quiet --allow-existing --python $(PYTHON) $(VENV)
	$(UV) pip install --quiet --python $(BIN)/python -r requirements-dev.lock
	$(UV) pip install --quiet --python $(BIN)/python --no-deps -e .
	@touch $@

install: system-deps $(BIN)/surge $(SAM) $(CHECKOV) ## Create .venv (pinned by requirements-dev.lock) and the SAM CLI and checkov venvs

lock: | $(UV) ## Re-pin requirements-dev.lock from pyproject.toml
	$(UV) pip compile --quiet --python-version 3.11 --extra dev pyproject.toml -o requirements-dev.lock

lint: install ## ruff (lint + format check), mypy strict on functions/, cfn-lint, sam validate --lint, checkov
	$(BIN)/ruff check functions cli tests bench
	$(BIN)/ruff format --check functions cli tests bench
	$(BIN)/mypy functions
	$(BIN)/cfn-lint --include-checks I -- infra/template.yaml
	cd infra && AWS_DEFAULT_REGION=$${AWS_DEFAULT_REGION:-us-east-1} $(abspath $(SAM)) validate --lint $(SAMCONFIG)
	$(CHECKOV) --quiet --compact --skip-download --framework cloudformation -f infra/template.yaml

test: lint ## Lint, then the whole pytest suite
	$(BIN)/pytest

demo: install ## Replay the bundled artist-post spike under every policy on local AWS: table + out/artist-post.png
	@mkdir -p out
	$(BIN)/surge replay scenarios/artist-post.json --policy all --plot out/artist-post.png \
		--timeline out/artist-post-timeline.csv | tee out/artist-post.txt
	@echo "plot: out/artist-post.png   timeline: out/artist-post-timeline.csv"

sandbox: install ## Surge on a local moto server process (stack, stand-in ECS service, live traffic) until Ctrl-C; SCENARIO=file.json
	$(BIN)/surge sandbox $(if $(SCENARIO),--scenario $(SCENARIO),)

bench: install ## Every bundled scenario under every policy, guess sensitivity, latency worlds, first response, speed
	@mkdir -p out
	$(BIN)/python bench/run.py --json out/bench.json

figures: bench ## make bench, then rewrite the README's figures from out/bench.json
	$(BIN)/python bench/readme.py out/bench.json README.md

# checkov pins an old boto3 and sam-cli another: each lives in its own venv, made by the bootstrap's uv.
$(SAM): | $(UV)
	$(UV) venv --quiet --allow-existing --python $(PYTHON) $(TOOLS)/sam
	$(UV) pip install --quiet --python $(TOOLS)/sam/bin/python "aws-sam-cli==1.170.0"

$(CHECKOV): | $(UV)
	$(UV) venv --quiet --allow-existing --python $(PYTHON) $(TOOLS)/checkov
	$(UV) pip install --quiet --python $(TOOLS)/checkov/bin/python "checkov==3.3.30"

scenario-format: $(BIN)/surge ## Rewrite the field tables of docs/scenario-format.md from the scenario models
	$(BIN)/python -m surge_cli.scenario_format docs/scenario-format.md

build: $(SAM) ## sam build (a plain copy of functions/: dependencies come from the Powertools layer; any STACK)
	$(SAM_RUN) build $(SAMCONFIG)

aws-check: $(BIN)/surge ## One line naming what to set if AWS region or credentials are missing (no AWS call for that)
	@$(BIN)/python -m surge_cli.preflight --stack $(STACK)

deploy: aws-check build ## sam deploy STACK (default surge); e.g. make deploy STACK=prod PARAMS="ClusterName=prod ServiceName=api LoadBalancerFullName=app/alb/123"
	$(SAM_RUN) deploy $(SAMCONFIG) $(STACK_ARGS) $(if $(PARAMS),--parameter-overrides $(PARAMS),)

delete: aws-check $(SAM) ## sam delete STACK (default surge)
	$(SAM_RUN) delete $(SAMCONFIG) $(STACK_ARGS) --no-prompts

clean: ## Remove the virtual environments and build output
	rm -rf $(VENV) $(TOOLS) .aws-sam infra/.aws-sam
