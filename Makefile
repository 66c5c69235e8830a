# kompeten — `make help` lists the targets. Everything runs from a local .venv that the
# targets create themselves, so a fresh clone needs only python3 (>= 3.11) and make.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
UV     := $(BIN)/uv
DATA   ?= var/demo
EMPLOYEES ?= 400
HOST   ?= 127.0.0.1
PORT   ?= 8000
export PYTHONDONTWRITEBYTECODE := 1
export OPENBLAS_NUM_THREADS := 1

.DEFAULT_GOAL := help
.PHONY: help setup run demo test test-fast lint format bench clean

help: ## Show this list of targets
	@grep -E '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN{FS=":.*?## "}{printf "  %-10s %s\n", $$1, $$2}'

$(BIN)/kompeten: pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@test -x $(UV) || $(BIN)/python -m pip install --quiet --disable-pip-version-check uv
	$(UV) pip install --python $(BIN)/python --compile-bytecode --quiet -e '.[test]'
	@touch $(BIN)/kompeten

setup: $(BIN)/kompeten ## Create .venv and install kompeten with its test tools

run: setup ## Main job on the embedded default: demo data -> validate -> train -> plans -> serve
	$(BIN)/kompeten demo-data --out $(DATA) --employees $(EMPLOYEES)
	$(BIN)/kompeten validate --data $(DATA)
	$(BIN)/kompeten train --data $(DATA)
	$(BIN)/kompeten plan --data $(DATA) --out var/plans.jsonl
	@echo "API key for HR systems (role hr_system):"
	@$(BIN)/kompeten keys create --role hr_system --label make-run-hr
	@echo "API key for the manager of Kecamatan Kertapati (role manager, for the pages):"
	@$(BIN)/kompeten keys create --role manager --unit KEC-KERTAPATI --label make-run-manager
	@echo "Serving on http://$(HOST):$(PORT)  API docs: http://$(HOST):$(PORT)/docs  manager pages: http://$(HOST):$(PORT)/halaman/"
	KOMPETEN_DATA_DIR=$(DATA) $(BIN)/kompeten serve --host $(HOST) --port $(PORT)

demo: setup ## Only write and validate the demo dataset
	$(BIN)/kompeten demo-data --out $(DATA) --employees $(EMPLOYEES)
	$(BIN)/kompeten validate --data $(DATA)

test: setup ## Run the whole test suite (pytest; exit 5 "no tests" counts as failure)
	$(BIN)/python -m pytest -q

lint: setup ## ruff lint + format check, mypy on the packages
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy features model training_pipeline serving experiments

format: setup ## Apply ruff fixes and formatting
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: setup ## Run the benchmarks (prints numbers, writes benchmarks/results/*.json)
	$(BIN)/python -m benchmarks

clean: ## Remove local state (var/) — keeps .venv
	rm -rf var
