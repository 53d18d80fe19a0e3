# Two commands on a fresh machine:  `make demo`  and  `make test`.
# Each installs what it needs first (system GL libraries for MediaPipe/OpenCV, a virtualenv,
# the package), so both work on a clean clone.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup demo test lint bench basis eval dataset stats clean

setup: $(STAMP)

# MediaPipe and OpenCV load libEGL/libGLESv2/libGL at import time; a bare Debian lacks them.
.system-libs:
	@if ! ldconfig -p | grep -q 'libEGL.so.1' || ! ldconfig -p | grep -q 'libGLESv2.so.2' \
	   || ! ldconfig -p | grep -q 'libGL.so.1'; then \
	  echo "installing system GL libraries"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq libegl1 libgles2 libgl1; \
	fi
	@touch .system-libs

# The browser tests drive Debian's Chromium through Playwright (never a downloaded browser).
.system-browser:
	@if ! command -v chromium >/dev/null 2>&1; then \
	  echo "installing chromium (browser tests of vasa serve)"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	fi
	@touch .system-browser

$(STAMP): pyproject.toml .system-libs .system-browser
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	@touch $(STAMP)

demo: setup
	$(BIN)/vasa demo -o vasa_demo.mp4

test: setup
	$(BIN)/python -m pytest -q

lint: setup
	$(BIN)/ruff check src tests benchmarks scripts

bench: setup
	$(BIN)/python benchmarks/bench_render.py
	$(BIN)/python benchmarks/bench_reenact.py
	$(BIN)/python benchmarks/bench_prepare.py

# Rebuild the face basis asset from ../shared/data (training speakers only).
basis: setup
	$(BIN)/vasa build-basis

# The default training dataset from ../shared/data (used by the motion generator).
DATASET ?= data/vasa-default
dataset: setup
	$(BIN)/vasa prepare ../shared/data/MANIFEST.tsv -o $(DATASET) --workers 2
	$(BIN)/vasa data stats $(DATASET)

eval: setup
	$(BIN)/python scripts/eval_self_reenact.py

clean:
	rm -rf $(VENV) .system-libs .system-browser .pytest_cache
