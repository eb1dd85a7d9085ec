# Ilopiste registers. `make run` starts the local stack; `make test` runs every check.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test unit browser lint typecheck package cfn-lint checkov openapi bench clean

$(STAMP): requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $(STAMP)

venv: $(STAMP)

run: $(STAMP)  ## the local stack: emulated AWS, the API and the import/sweep worker
	$(PY) -m devstack

test: lint typecheck package unit cfn-lint checkov  ## everything CI checks

unit: package browser  ## the suite checks every AWS call against the packaged roles (dist/sam.json)
	$(PY) -m pytest -q -n 2 tests

CHROMIUM ?= /usr/bin/chromium
browser:  ## tests/browser drive the distribution's Chromium (Playwright cannot download its own here)
	@test -x $(CHROMIUM) || { \
	  SUDO=$$(test "$$(id -u)" = 0 || echo sudo); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium; }
	@test -x $(CHROMIUM)

lint: $(STAMP)
	$(VENV)/bin/ruff check app.py chalicelib devstack tests bench infra
	$(VENV)/bin/ruff format --check app.py chalicelib devstack tests bench infra

typecheck: $(STAMP)
	$(VENV)/bin/mypy app.py chalicelib infra/prune_package.py

package: $(STAMP)  ## the deployable CloudFormation template and Lambda bundle in dist/
	rm -rf dist
	AWS_DEFAULT_REGION=eu-north-1 $(VENV)/bin/chalice package --stage prod --merge-template infra/resources.json dist
	$(PY) infra/prune_package.py dist/deployment.zip  # what no function uses (Chalice cannot leave it out)

cfn-lint: package
	$(VENV)/bin/cfn-lint dist/sam.json infra/partner-role.json

checkov: package  ## IaC security scan; own venv (checkov pins an older boto3 than the app)
	test -x .venv-checkov/bin/checkov || ($(PYTHON) -m venv .venv-checkov && .venv-checkov/bin/pip install --quiet checkov==3.3.30)
	.venv-checkov/bin/checkov --config-file infra/checkov.yaml --skip-download

openapi: $(STAMP)  ## rewrite openapi.json and chalicelib/api/route_policy.json from the route table (tests keep them equal)
	$(PY) -m devstack.openapi

bench: $(STAMP)
	$(PY) -m bench

clean:
	rm -rf $(VENV) .venv-checkov dist .local
