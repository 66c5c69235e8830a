# kompeten — `make help` lists the targets. Everything runs from a local .venv that the
# targets create themselves from the committed uv.lock, so a fresh clone needs only python3
# (>= 3.11), make and access to PyPI.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
TOOLS  := .tools
UV     := $(TOOLS)/bin/uv
DATA   ?= var/demo
EMPLOYEES ?= 400
HOST   ?= 127.0.0.1
PORT   ?= 8000
export OPENBLAS_NUM_THREADS := 1
# uv installs into $(VENV) with the machine's python3 and never downloads an interpreter.
export UV_PROJECT_ENVIRONMENT := $(VENV)
export UV_PYTHON := $(PYTHON)
export UV_PYTHON_DOWNLOADS := never
# The runtime environment is not byte-compiled at install time (it would add ~200 MB for
# modules the service never imports); Python caches the modules it does import on first use.
# Some machines set PYTHONDONTWRITEBYTECODE=1, which would make every start pay ~9 s.
export PYTHONDONTWRITEBYTECODE :=

.DEFAULT_GOAL := help
.PHONY: help setup setup-test lock run demo test lint format bench clean

help: ## Show this list of targets
	@grep -E '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN{FS=":.*?## "}{printf "  %-10s %s\n", $$1, $$2}'

$(UV):
	$(PYTHON) -m pip install --quiet --disable-pip-version-check --root-user-action=ignore \
		--target $(TOOLS) 'uv==0.13.9'

# Runtime only: what demo data, training, plans and the service need (no test tools).
$(VENV)/.runtime: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --no-dev --quiet
	@rm -f $(VENV)/.test && touch $@

# Runtime + the `test` dependency group (pytest, Playwright, schemathesis, ruff, mypy, the
# full mlflow for `mlflow server`, pyspark), byte-compiled: the suite imports all of it.
$(VENV)/.test: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --group test --compile-bytecode --quiet
	@rm -f $(VENV)/.runtime && touch $@

setup: $(VENV)/.runtime ## Create .venv with the runtime dependencies from uv.lock

setup-test: $(VENV)/.test ## Create .venv with the runtime and the test tools from uv.lock

lock: | $(UV) ## Re-resolve uv.lock after changing dependencies in pyproject.toml
	$(UV) lock

run: setup ## Main job on the embedded default: demo data -> validate -> train -> plans -> store -> serve
	$(BIN)/kompeten demo-data --out $(DATA) --employees $(EMPLOYEES)
	$(BIN)/kompeten validate --data $(DATA)
	$(BIN)/kompeten train --data $(DATA)
	$(BIN)/kompeten plan --data $(DATA) --out var/plans.jsonl
	$(BIN)/kompeten import --data $(DATA) --replace
	@echo "API key for HR systems (role hr_system):"
	@$(BIN)/kompeten keys create --role hr_system --label make-run-hr
	@echo "API key for the manager of Kecamatan Kertapati (role manager, for the pages):"
	@$(BIN)/kompeten keys create --role manager --unit KEC-KERTAPATI --label make-run-manager
	@echo "Serving on http://$(HOST):$(PORT)  API docs: http://$(HOST):$(PORT)/docs  manager pages: http://$(HOST):$(PORT)/halaman/"
	KOMPETEN_DATA_DIR=$(DATA) $(BIN)/kompeten serve --host $(HOST) --port $(PORT)

demo: setup ## Only write and validate the demo dataset
	$(BIN)/kompeten demo-data --out $(DATA) --employees $(EMPLOYEES)
	$(BIN)/kompeten validate --data $(DATA)

test: setup-test ## Run the whole test suite (pytest; exit 5 "no tests" counts as failure)
	$(BIN)/python -m pytest -q

lint: setup-test ## ruff lint + format check, mypy on the packages
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy features model training_pipeline serving experiments demo_data kompeten benchmarks

format: setup-test ## Apply ruff fixes and formatting
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: setup-test ## Run the benchmarks (prints numbers, writes benchmarks/results/*.json)
	$(BIN)/python -m benchmarks

clean: ## Remove local state (var/) — keeps .venv and .tools
	rm -rf var
