# Everything a fresh machine needs comes from here: Python 3.11, pip and make are the only prerequisites.
# uv is bootstrapped into a private venv, then the project's .venv is built from the committed uv.lock.

PYTHON     ?= python3
UV_VERSION := 0.13.9
BOOT       := .uv-bootstrap
UV         := $(BOOT)/bin/uv
VENV       := .venv
export UV_COMPILE_BYTECODE := 1
EXTRA      := config/extra-requirements.txt
export UV_PROJECT_ENVIRONMENT := $(VENV)
export PROJECT_ROOT := $(CURDIR)

.PHONY: demo test lint airflow sandbox bench bench-vs-dlt schema clean

$(UV):
	$(PYTHON) -m venv $(BOOT)
	$(BOOT)/bin/pip install --quiet "uv==$(UV_VERSION)"

# Out-of-tree connector packages listed in $(EXTRA) go in after the sync (which removes what uv.lock does not
# name); `hub new connector` adds its packages there.
$(VENV)/.synced: pyproject.toml uv.lock $(wildcard $(EXTRA)) | $(UV)
	$(UV) sync --frozen --python $(PYTHON)
	@if grep -qvE '^[[:space:]]*(#|$$)' $(EXTRA) 2>/dev/null; then \
		echo "$(UV) pip install -r $(EXTRA)"; $(UV) pip install --python $(VENV)/bin/python -r $(EXTRA); fi
	touch $@

demo: $(VENV)/.synced  ## run every exchange once on embedded defaults (SQLite, built-in simulators)
	$(VENV)/bin/hub demo

test: $(VENV)/.synced  ## the whole test suite (starts PostgreSQL, MariaDB, Redis and Firebird when they are down)
	bash .ci/services
	$(VENV)/bin/pytest

lint: $(VENV)/.synced  ## ruff, the layer contracts (import-linter, pyproject.toml) and mypy on hub/ and connectors/
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports --no-cache
	$(VENV)/bin/mypy

airflow: $(VENV)/.synced  ## Airflow standalone on SQLite with the hub's DAGs
	$(VENV)/bin/hub airflow

bench: $(VENV)/.synced  ## benchmarks: each prints ratios against a baseline measured in the same run
	@for b in $(filter-out bench/bench_vs_dlt.py,$(wildcard bench/bench_*.py)); do echo "== $$b"; $(VENV)/bin/python $$b || exit 1; done

bench-vs-dlt: $(VENV)/.synced  ## the hub against dlt on the same work (dlt goes into bench/.venv-dlt only)
	$(VENV)/bin/python bench/bench_vs_dlt.py $(ARGS)

schema: $(VENV)/.synced  ## regenerate config/mapping.schema.json from the mapping model
	$(VENV)/bin/hub schema

clean:
	rm -rf var airflow-home .pytest_cache .ruff_cache
