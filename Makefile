# The README's two commands: `make run` (set up and start the assistant) and `make test`.
# Every target sets up what it needs first, so both work on a fresh clone.

SHELL := /bin/bash
.DEFAULT_GOAL := help

# PYTHON: the interpreter for .venv; empty means 3.10 when the machine has it, else python3
# (scripts/install.sh says which it took).
PYTHON ?=
VENV   := .venv
BIN    := $(VENV)/bin

# Ports and paths; override on the command line or in the environment. The defaults mirror
# settings/__init__.py, the one place for them (tests/test_settings.py checks they agree).
export RASA_PORT    ?= 5005
export ACTIONS_PORT ?= 5055
export WEB_PORT     ?= 8080
export TRACKER_DB   ?= var/trackers.db
export ACTIONS_URL  ?= http://127.0.0.1:$(ACTIONS_PORT)/webhook
# No outbound traffic at run time: Rasa's telemetry is off, TensorFlow is quiet.
export RASA_TELEMETRY_ENABLED := false
export TF_CPP_MIN_LOG_LEVEL   ?= 2
# Reproducible training: DIET has a fixed seed, and this asks TensorFlow for deterministic kernels.
export TF_DETERMINISTIC_OPS   := 1
export SQLALCHEMY_SILENCE_UBER_WARNING := 1

LOCK          := requirements/lock.txt
INSTALLED     := $(VENV)/.installed
SPACY_VERSION := $(shell sed -n 's/^version: "\(.*\)"/\1/p' nlp/patterns/entities.yml)
SPACY_MODEL   := build/spacy/en_knee-$(SPACY_VERSION)/meta.json
MODEL         := models/knee-assistant.tar.gz
TRAIN_INPUTS  := config.yml $(wildcard domain/*.yml) $(shell find data -name '*.yml') \
                 $(shell find components nlp clinical -name "*.py") $(shell find nlp/patterns clinical corpus -name "*.yml") $(SPACY_MODEL)

.PHONY: help install train run shell test test-unit lint validate benchmark lock clean domain staff-account

help:
	@echo "make run        set everything up, train if needed, start the assistant (Ctrl-C stops it)"
	@echo "make test       set everything up, lint, train if needed, run every test"
	@echo "make lint       ruff (lint and format check), mypy, the pattern files' layout"
	@echo "make install    create .venv from the lock and build the spaCy pipeline"
	@echo "make train      train the Rasa model (only when data, domain or config changed)"
	@echo "make shell      chat in the terminal (needs the servers of 'make run' running)"
	@echo "make benchmark  compare this assistant with the stock 'rasa init' bot"
	@echo "make lock       re-resolve requirements/lock.txt from pyproject.toml"
	@echo "make staff-account USERNAME=alex [ROLE=staff|admin]   a staff inbox account (asks for the password)"

WEB_BUILD     := build/web/static/knee-chat.js

install: $(INSTALLED) $(SPACY_MODEL) $(WEB_BUILD)

# The web widget and its demo page: socket.io-client from the npm registry, bundled into build/web.
$(WEB_BUILD): web/package.json web/package-lock.json $(wildcard web/widget/*) $(wildcard web/demo/*) scripts/build_web.sh
	scripts/build_web.sh

$(INSTALLED): $(LOCK) scripts/install.sh
	PYTHON=$(PYTHON) scripts/install.sh
	@touch $@

$(SPACY_MODEL): $(INSTALLED) nlp/patterns/entities.yml nlp/build_pipeline.py
	$(BIN)/python -m nlp.build_pipeline

train: $(MODEL)

$(MODEL): $(TRAIN_INPUTS) | install
	$(BIN)/rasa train --domain domain --fixed-model-name knee-assistant --out models
	@touch $@

# The self-check's slots and questions are generated from clinical/content/self_check.yml.
domain: | install
	$(BIN)/python -m scripts.build_self_check_domain

run: install train
	scripts/run.sh

# rasa shell runs a Rasa server of its own: next to make run's, on the next port, with the same
# action server and tracker store.
shell: install
	$(BIN)/rasa shell --endpoints endpoints.yml -m $(MODEL) --port $$(( $(RASA_PORT) + 1 ))

# Staff inbox accounts are given, never signed up for (staff_inbox/accounts.py).
ROLE ?= staff
staff-account: install
	@test -n "$(USERNAME)" || { echo "usage: make staff-account USERNAME=alex [ROLE=staff|admin]" >&2; exit 2; }
	$(BIN)/python -m staff_inbox.accounts create "$(USERNAME)" --role "$(ROLE)"

validate: install
	$(BIN)/python -m scripts.validate_data

# The browser tests drive Debian's chromium; the cluster, store and fault tests start PostgreSQL,
# Redis and nginx on loopback. Each is installed here (apt) if the machine has none.
# Lint first (after installing the tools): a style or type error fails in seconds, not after training.
test: install lint train
	scripts/install_browser.sh
	scripts/install_services.sh
	scripts/test.sh

lint: install
	scripts/lint.sh

test-unit: install
	$(BIN)/pytest -m "not slow"

benchmark: install train
	$(BIN)/python -m scripts.benchmark

lock:
	uv pip compile pyproject.toml --extra test --python-version 3.10 \
	  --override requirements/overrides.txt -o $(LOCK)

clean:
	rm -rf $(VENV) build models .rasa var
