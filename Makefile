# Entry points for people and for .ci/run alike. Every target creates .venv itself.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
# The report page's browser tests drive Debian's Chromium (Playwright downloads no browser here)
# and inject axe-core, pinned in tools/axe.
CHROMIUM ?= /usr/bin/chromium
AXE      := tools/axe/node_modules/axe-core/axe.min.js
# The bundled snapshot's date, so the demo's suppressions read the same on any day.
DEMO_DATE := 2026-11-20

.PHONY: venv demo test lint format bench bench-validate bench-drift bench-drift-cpu bench-reconcile bench-report browser pipeline package clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

## The main job on the bundled example data (examples/: laid out as an adopting repository,
## config/checker.yaml and config/orgs/): no credentials, no network.
demo: $(STAMP)
	@cd examples && CHECKER_TODAY=$(DEMO_DATE) ../$(BIN)/checker validate
	@cd examples && CHECKER_TODAY=$(DEMO_DATE) ../$(BIN)/checker drift --snapshot snapshot.json; code=$$?; \
	  if [ $$code -ne 0 ] && [ $$code -ne 3 ]; then exit $$code; fi; \
	  echo "(exit code $$code: 3 means drift was found, as the example snapshot intends)"

## The whole test suite (with the report page's tests in headless Chromium), one worker per
## core; each test file stays in one worker, so its module fixtures (a browser, servers) are shared.
test: $(STAMP) browser $(AXE)
	CHECKER_CHROMIUM=$(CHROMIUM) $(BIN)/python -m pytest -n auto --dist loadfile

## Debian's chromium, installed when missing (as ci/pipeline-setup.sh installs rsync).
browser:
	@if [ ! -x "$(CHROMIUM)" ]; then \
	  echo "installing Debian's chromium (the report page's browser tests need it)"; \
	  command -v apt-get >/dev/null 2>&1 || { echo "$(CHROMIUM) is missing and there is no apt-get to install it" >&2; exit 1; }; \
	  sudo=""; if [ "$$(id -u)" -ne 0 ]; then sudo=sudo; fi; \
	  $$sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq chromium >/dev/null; \
	fi

$(AXE): tools/axe/package.json tools/axe/package-lock.json
	cd tools/axe && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	touch $@

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy --strict checker

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: bench-validate bench-drift bench-drift-cpu bench-reconcile bench-report

bench-validate: $(STAMP)
	$(BIN)/python benchmarks/bench_validate.py

bench-drift: $(STAMP)
	$(BIN)/python benchmarks/bench_drift.py

bench-drift-cpu: $(STAMP)
	$(BIN)/python benchmarks/bench_drift.py --unpaced

bench-reconcile: $(STAMP)
	$(BIN)/python benchmarks/bench_reconcile.py

bench-report: $(STAMP) browser
	CHECKER_CHROMIUM=$(CHROMIUM) $(BIN)/python benchmarks/bench_report.py

## The release's build steps, as the release job runs them: sdist and wheel (the version is
## pyproject.toml's, the only place it is written), twine check, and the Containerfile linted.
package: $(STAMP)
	rm -rf dist
	$(BIN)/python -m build --outdir dist .
	$(BIN)/twine check --strict dist/*
	$(BIN)/hadolint --failure-threshold warning Containerfile
	@ls -l dist

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache dist

## The pipeline proof (tests/pipeline/, marked `pipeline`, which `make test` deselects): runs
## .gitlab-ci.yml with gitlab-ci-local against fake servers. ci/pipeline-setup.sh installs rsync
## and gitlab-ci-local first. PIPELINE_PROOF_STRICT=1 (as .ci/run sets) fails instead of skipping.
pipeline: $(STAMP)
	bash ci/pipeline-setup.sh
	$(BIN)/python -m pytest -m pipeline -v tests/pipeline
