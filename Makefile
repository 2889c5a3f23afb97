# ots-desktop developer tasks. `make run` and `make test` install everything they need.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
PYTEST_ARGS ?=

.PHONY: setup system-deps run demo test check lint typecheck importlint packaging-check icons pytest briefcase-test bench screenshots clean

system-deps:
	bash .ci/system-deps.sh

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,packaging]'
	touch $(STAMP)

setup: system-deps $(STAMP)

# The main job: the desktop app when there is a display, otherwise the headless demo.
run: setup
	@if [ -n "$${DISPLAY:-}$${WAYLAND_DISPLAY:-}" ]; then \
		.ci/keyring-session.sh $(BIN)/ots-desktop; \
	else \
		echo "No display: running the headless demo (ots demo)."; \
		.ci/keyring-session.sh $(BIN)/ots demo; \
	fi

demo: setup
	.ci/keyring-session.sh $(BIN)/ots demo

test: setup check pytest briefcase-test

check: lint typecheck importlint packaging-check

lint:
	$(BIN)/ruff check ots_desktop tests packaging
	$(BIN)/python .ci/ascii_check.py ots_desktop

typecheck:
	$(BIN)/mypy

importlint:
	$(BIN)/lint-imports

packaging-check:
	PYTHON=$(BIN)/python bash .ci/packaging-check.sh

# After editing an SVG under resources/icons/: re-render every PNG, ICO and ICNS.
icons:
	QT_QPA_PLATFORM=offscreen $(BIN)/python packaging/render_icons.py

# The desktop tests run in a second process: a Twisted reactor binds one event loop per
# process, and theirs is the app's qasync loop (on a real X server the tests start).
# A test stuck inside Qt never sees pytest-timeout's signal, so that process uses the thread
# method (print every stack, then exit). Each process also has a hard limit, far above the
# few minutes each usually takes: SIGABRT makes faulthandler print every thread's stack first.
pytest:
	QT_QPA_PLATFORM=offscreen timeout -s ABRT -k 30 40m $(BIN)/python -m pytest $(PYTEST_ARGS)
	timeout -s ABRT -k 30 20m $(BIN)/python -m pytest tests/ui --timeout-method=thread $(PYTEST_ARGS)

# Briefcase's test mode runs the suite through tests/ots_desktop.py, offline (it reuses the venv);
# here the unit tests, since make pytest has just run everything.
briefcase-test: setup
	$(BIN)/briefcase dev --no-isolation --test -- tests/unit -q

bench: setup
	.ci/keyring-session.sh $(BIN)/python -m tests.benchmarks

# The reveal page in each state (system Chromium) and every page of the desktop app (Xvfb):
# docs/screenshots/reveal-*.png and app-*.png.
screenshots: setup
	$(BIN)/python -m tests.browser.screenshots docs/screenshots
	APP_SCREENSHOTS_DIR=$(CURDIR)/docs/screenshots $(BIN)/python -m pytest tests/ui/test_screenshots.py -q

clean:
	rm -rf $(VENV) build *.egg-info .mypy_cache .ruff_cache
