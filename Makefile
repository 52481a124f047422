# vergeos.power: every task a contributor or CI runs. `make help` lists them.
# Nothing is installed by hand but Python 3.11+ and make: the first target you
# run creates .venv from requirements-dev.txt (which includes the split files:
# requirements.txt, requirements-sim.txt, requirements-test.txt, requirements-publish.txt);
# `make demo` builds the smaller .venv-demo from the runtime and simulator ones only.

PYTHON ?= python3
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
STAMP := $(VENV)/.requirements-installed
# The collection's own tree is put on the collections path through .cache/collections.
COLLECTIONS := $(CURDIR)/.cache/collections
export ANSIBLE_COLLECTIONS_PATH := $(COLLECTIONS)
export PATH := $(BIN):$(PATH)
# The demo and the tests run on the implicit localhost; say nothing about a missing inventory.
export ANSIBLE_LOCALHOST_WARNING := false
export ANSIBLE_INVENTORY_UNPARSED_WARNING := false
# Three pytest workers on two cores: the functional tests wait on simulated guests and Ansible's start-ups, and with two
# workers a core sat idle about a fifth of the time (CONTRIBUTING.md, "Where make test's time goes").
PYTEST_WORKERS ?= 3
# JUNIT_DIR=DIR (set by tools/run_suites.py): the suites write machine-readable results
# there (JUnit XML; see tools/ansible-test.sh for the ansible-test ones). Unset: as before.
JUNIT_DIR ?=

.DEFAULT_GOAL := help
.PHONY: help venv demo quick test sanity units functional integration lint changelog-lint publish molecule compat bench sim clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-15s %s\n", $$1, $$2}'

REQUIREMENT_FILES := requirements-dev.txt requirements.txt requirements-sim.txt requirements-test.txt requirements-publish.txt
DEMO_VENV := .venv-demo
DEMO_BIN := $(CURDIR)/$(DEMO_VENV)/bin
DEMO_STAMP := $(DEMO_VENV)/.requirements-installed

$(STAMP): $(REQUIREMENT_FILES)
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed (PYTHON=$(PYTHON) is %d.%d); run: make PYTHON=python3.11 ..." % sys.version_info[:2])'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	@touch $@

$(COLLECTIONS)/ansible_collections/vergeos/power:
	@mkdir -p $(COLLECTIONS)/ansible_collections/vergeos
	@ln -sfn $(CURDIR) $@

venv: $(STAMP) $(COLLECTIONS)/ansible_collections/vergeos/power ## Create .venv with the pinned tools

$(DEMO_STAMP): requirements.txt requirements-sim.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed (PYTHON=$(PYTHON) is %d.%d); run: make PYTHON=python3.11 ..." % sys.version_info[:2])'
	$(PYTHON) -m venv $(DEMO_VENV)
	$(DEMO_BIN)/python -m pip install --quiet -r requirements.txt -r requirements-sim.txt
	@touch $@

demo: $(DEMO_STAMP) $(COLLECTIONS)/ansible_collections/vergeos/power ## Start the simulator, run the demo playbooks against it, stop it (its own small .venv-demo)
	PATH="$(DEMO_BIN):$$PATH" $(DEMO_BIN)/python tools/with_simulator.py --speed 10 -- $(DEMO_BIN)/ansible-playbook playbooks/demo.yml

# `make quick`: what to run while working. The functional files below need neither molecule, compat, publish, integration
# nor the simulator's self-tests, and take seconds each (CONTRIBUTING.md gives the figures); the unit tests run with plain
# pytest (tests/unit/conftest.py puts the collection on the import path).
QUICK_FUNCTIONAL := tests/functional/tools tests/functional/docs tests/functional/conformance/test_doc_examples.py \
	tests/functional/client/test_client_against_simulator.py tests/functional/client/test_client_wire_faults.py \
	tests/functional/eda/test_eda_source.py tests/functional/packaging/test_docs.py tests/functional/packaging/test_docs_coverage.py \
	tests/functional/packaging/test_ci_workflows.py tests/functional/packaging/test_private_interfaces.py \
	tests/functional/packaging/test_release_version.py

quick: venv ## While working: ruff, the unit tests and the fast functional tests (under 2 minutes warm)
	$(BIN)/ruff check --quiet .
	$(BIN)/python -m pytest -q -p no:cacheprovider -n 0 tests/unit
	$(BIN)/python -m pytest -q -p no:cacheprovider -n $(PYTEST_WORKERS) --dist loadfile $(QUICK_FUNCTIONAL)

test: venv ## Run every test suite (those joined by + side by side), print each suite's time and a pass/fail count
	$(BIN)/python tools/run_suites.py sanity+lint+changelog-lint+publish units functional integration+molecule+compat

sanity: venv ## ansible-test sanity (a skip must be on tests/sanity/allowed-skips.txt)
	tools/ansible-test.sh sanity

units: venv ## ansible-test units (ARGS=PATH to pick tests, or other ansible-test options)
	tools/ansible-test.sh units $(ARGS)

# tests/functional/packaging/test_publish.py is the publish suite, run on its own.
functional: venv ## The pytest suites: simulator, conformance with pyvergeos, end to end
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist loadfile -q -p no:cacheprovider --ignore=tests/functional/packaging/test_publish.py $(if $(JUNIT_DIR),'--junit-xml=$(JUNIT_DIR)/functional.xml') tests/functional

integration: venv ## ansible-test integration against a simulator started for the run (ARGS=TARGET to pick one)
	$(BIN)/python tools/with_simulator.py --speed 100 -- tools/ansible-test.sh integration $(ARGS)

lint: venv ## ruff, ansible-lint (production profile, offline), actionlint on .github/workflows
	$(BIN)/ruff check --quiet .
	NO_COLOR=1 $(BIN)/ansible-lint --offline --profile production
	$(BIN)/actionlint -no-color

changelog-lint: venv ## antsibull-changelog lint of the changelog fragments
	$(BIN)/antsibull-changelog lint

publish: venv ## What Galaxy and the docsite check: galaxy-importer on the tarball, antsibull-docs lint, New Roles in a release dry run
	$(BIN)/python -m pytest -q -p no:cacheprovider $(if $(JUNIT_DIR),'--junit-xml=$(JUNIT_DIR)/publish.xml') tests/functional/packaging/test_publish.py

molecule: venv ## The molecule scenarios, against a simulator started for the run
	@if [ -d extensions/molecule ]; then cd extensions && $(BIN)/python ../tools/with_simulator.py -- $(BIN)/molecule test --all; else echo "molecule: no scenario yet (extensions/molecule does not exist)"; fi

compat: venv ## Smoke subset with each newer ansible-core release line, each on a newer Python (tools/compat.py)
	$(BIN)/python tools/compat.py $(if $(JUNIT_DIR),'--junit-xml=$(JUNIT_DIR)/compat.xml')

bench: venv ## Benchmarks: print figures, assert nothing
	$(BIN)/python tests/bench/bench_pacing.py
	$(BIN)/python tests/bench/bench_simulator.py
	$(BIN)/python tests/bench/bench_power.py
	$(BIN)/python tests/bench/bench_inventory.py --repeat 1
	$(BIN)/python tests/bench/bench_role.py
	$(BIN)/python tests/bench/bench_startup.py
	$(BIN)/python tests/bench/bench_rolling.py
	$(BIN)/python tests/bench/bench_lookup.py

sim: venv ## Run the simulator in the foreground (ARGS="--vms 100 --speed 10")
	$(BIN)/python tests/simulator/server.py --port 8443 $(ARGS)

clean: ## Remove test output and caches (keeps .venv)
	rm -rf tests/output .cache .pytest_cache .ruff_cache
