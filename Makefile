# ots-desktop developer tasks. `make run` and `make test` install everything they need.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
# The lock is per Python version (wheels and markers differ): requirements/lock-py3.11.txt and so on.
PYVER  := $(shell $(PYTHON) -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)
LOCK   := requirements/lock-py$(PYVER).txt
LOCKED := $(if $(wildcard $(LOCK)),-c $(LOCK),)
PYTEST_ARGS ?=

.PHONY: setup system-deps run demo test check lint typecheck importlint packaging-check icons pytest briefcase-test \
	install-check min-versions lock bench screenshots clean

system-deps:
	bash .ci/system-deps.sh

# The lock file pins every package, so each run resolves the versions CI tested (`make lock` re-resolves).
# A Python with no lock file of its own resolves afresh (and says so).
$(STAMP): pyproject.toml $(wildcard $(LOCK))
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	@[ -n "$(LOCKED)" ] || echo "No $(LOCK): resolving the newest allowed versions (make lock writes one)."
	$(BIN)/python -m pip install --quiet $(LOCKED) -e '.[desktop,speech,test,packaging]'
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

test: setup check pytest briefcase-test install-check min-versions

check: lint typecheck importlint packaging-check

lint:
	$(BIN)/ruff check ots_desktop tests packaging .ci
	$(BIN)/python .ci/ascii_check.py ots_desktop

# Also as Windows and macOS see it: a call that exists only on Linux fails here, not on a user's machine.
typecheck:
	$(BIN)/mypy
	$(BIN)/mypy --platform win32
	$(BIN)/mypy --platform darwin

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
# After a crash, the crashed thread's stack, then the others, end the output (faulthandler writes
# them to build/crash-*.log, see tests/support/crash_log.py), where a CI page that shows only the
# head and the tail of a long log has them.
pytest:
	@mkdir -p build
	QT_QPA_PLATFORM=offscreen OTS_CRASH_LOG=build/crash-main.log timeout -s ABRT -k 30 40m $(BIN)/python -m pytest \
		$(PYTEST_ARGS) || { s=$$?; $(BIN)/python .ci/last_stack.py build/crash-main.log; exit $$s; }
	OTS_CRASH_LOG=build/crash-ui.log timeout -s ABRT -k 30 20m $(BIN)/python -m pytest tests/ui --timeout-method=thread \
		$(PYTEST_ARGS) || { s=$$?; $(BIN)/python .ci/last_stack.py build/crash-ui.log; exit $$s; }

# Briefcase's test mode runs the suite through tests/ots_desktop.py, offline (it reuses the venv);
# here the unit tests, since make pytest has just run everything.
briefcase-test: setup
	$(BIN)/briefcase dev --no-isolation --test -- tests/unit -q

# The built wheel in a fresh venv per kind of user: the relay host's base install (no Qt) and the
# desktop extra, each running its entry points.
install-check: setup
	$(PYTHON) .ci/install_check.py $(if $(LOCKED),--lock $(LOCK),--no-lock)

# Every direct dependency at the lowest version pyproject.toml admits (requirements/minimum.txt),
# in a fresh venv: the unit and integration tests must pass there too.
MIN_VENV := build/min-versions
min-versions: system-deps
	rm -rf $(MIN_VENV)
	$(PYTHON) -m venv $(MIN_VENV)
	$(MIN_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(MIN_VENV)/bin/python -m pip install --quiet -c requirements/minimum.txt -e '.[desktop,speech,test]'
	QT_QPA_PLATFORM=offscreen timeout -s ABRT -k 30 30m $(MIN_VENV)/bin/python -m pytest tests/unit tests/integration \
		$(PYTEST_ARGS)

# Re-resolve every dependency to its newest allowed version and rewrite this Python's lock file.
lock:
	rm -rf build/lock-venv
	$(PYTHON) -m venv build/lock-venv
	build/lock-venv/bin/python -m pip install --quiet --upgrade pip
	build/lock-venv/bin/python -m pip install --quiet '.[desktop,speech,test,packaging]'
	{ echo "# Every package of '.[desktop,speech,test,packaging]' on Python $(PYVER), pinned: make setup installs with -c $(LOCK)."; \
	  echo "# Resolved on Python $$(build/lock-venv/bin/python -c 'import platform; print(platform.python_version())') by make lock; edit pyproject.toml, then run make lock."; \
	  build/lock-venv/bin/python -m pip freeze | grep -v -i '^ots-desktop'; } > $(LOCK)

bench: setup
	.ci/keyring-session.sh $(BIN)/python -m tests.benchmarks

# The reveal page in each state (system Chromium) and every page of the desktop app (Xvfb):
# docs/screenshots/reveal-*.png and app-*.png.
screenshots: setup
	$(BIN)/python -m tests.browser.screenshots docs/screenshots
	APP_SCREENSHOTS_DIR=$(CURDIR)/docs/screenshots $(BIN)/python -m pytest tests/ui/test_screenshots.py -q
	APP_SCREENSHOTS_DIR=$(CURDIR)/docs/screenshots APP_SCREENSHOTS_SUFFIX=-2x QT_SCALE_FACTOR=2 \
	  OTS_TEST_X_SCREEN=2800x2000 $(BIN)/python -m pytest tests/ui/test_screenshots.py -q

clean:
	rm -rf $(VENV) build *.egg-info .mypy_cache .ruff_cache
