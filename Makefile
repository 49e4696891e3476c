# The documented commands. `make demo` and `make test` set everything up on a fresh machine.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: setup demo smoke test test-long lint format bench clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed (found " + sys.version.split()[0] + ")")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[edge,cloud,dev]'
	@rm -f $(VENV)/.installed-* && touch $@

setup: $(STAMP)  ## the venv, and the browser assets (npm registry, pinned, sha512-checked)
	$(BIN)/python -m cloud.web.assets install

demo: setup  ## the whole system on embedded defaults (SQLite + in-process MQTT broker)
	$(BIN)/oms demo

smoke: setup  ## the same, headless: exits 0 once a weighing made an order
	$(BIN)/oms demo --smoke --out var/smoke

test: setup  ## the whole suite against the real services (make test-long for soak/chaos)
	$(BIN)/pytest -m "not slow" -p no:cacheprovider

test-long: setup
	$(BIN)/pytest -m slow -p no:cacheprovider

lint: setup  ## ruff, mypy on the packages, and the committed contract schema
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/python -m protocols schema --check

format: setup
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf var .pytest_cache .ruff_cache .mypy_cache
