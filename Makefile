# Ilopiste registers. `make run` starts the local stack; `make test` runs every check.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test unit lint typecheck package cfn-lint bench clean

$(STAMP): requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $(STAMP)

venv: $(STAMP)

run: $(STAMP)  ## the local stack: emulated AWS, the API and the import/sweep worker
	$(PY) -m devstack

test: lint typecheck unit package cfn-lint  ## everything CI checks

unit: $(STAMP)
	$(PY) -m pytest -q -n 2 tests

lint: $(STAMP)
	$(VENV)/bin/ruff check app.py chalicelib devstack tests
	$(VENV)/bin/ruff format --check app.py chalicelib devstack tests

typecheck: $(STAMP)
	$(VENV)/bin/mypy app.py chalicelib

package: $(STAMP)  ## the deployable CloudFormation template and Lambda bundle in dist/
	rm -rf dist
	AWS_DEFAULT_REGION=eu-north-1 $(VENV)/bin/chalice package --stage prod --merge-template infra/resources.json dist

cfn-lint: package
	$(VENV)/bin/cfn-lint dist/sam.json infra/partner-role.json

bench: $(STAMP)
	$(PY) -m bench

clean:
	rm -rf $(VENV) dist .local
