# The two commands: `make run` (set up and start the portal) and `make test` (set up and run every test).
PYTHON ?= python3.11
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
DATA ?= $(or $(ECG_DATA_DIR),../shared/data)
PORT ?= 8000
TRAIN = $(PY) -m ml.train --data $(DATA)/mitdb

.PHONY: lock run test install install-test system-deps migrate seed worker train select evaluate bench clean

$(PY):
	$(PYTHON) -m venv $(VENV)

# requirements*.txt name what the project uses; requirements.lock pins every package they pull in
# (regenerate it with `make lock` after changing them).
$(STAMP): requirements.txt requirements-test.txt requirements.lock | $(PY)
	$(PIP) install --upgrade pip
	$(PIP) install -r requirements-test.txt -c requirements.lock
	touch $(STAMP)

lock: | $(PY)
	$(PIP) install -q uv
	$(VENV)/bin/uv pip compile requirements-test.txt -o requirements.lock --python-version 3.11 --no-header

install: $(STAMP)

# Debian packages the browser tests need (Chromium for Playwright; fonts for screenshots/PDFs).
# Installing them needs root (or sudo); once chromium is on PATH this step does nothing.
system-deps:
	@if ! command -v chromium >/dev/null 2>&1; then \
		if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
		$$SUDO apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null; \
	fi

migrate: install
	$(PY) manage.py migrate --noinput

seed: migrate
	$(PY) manage.py seed_portal

run: seed
	@if [ -n "$$REDIS_URL" ]; then \
		echo "Starting a Celery worker against $$REDIS_URL"; \
		$(VENV)/bin/celery -A ecgportal worker --beat --loglevel=INFO --concurrency=1 &\
		trap "kill $$!" EXIT; \
		$(PY) manage.py runserver $(HOST):$(PORT); \
	else \
		echo "REDIS_URL not set: analysis runs in-process (no worker needed)"; \
		$(PY) manage.py runserver $(HOST):$(PORT); \
	fi

worker: install
	$(VENV)/bin/celery -A ecgportal worker --loglevel=INFO --concurrency=1 --max-memory-per-child=1500000

test: install system-deps
	$(PY) manage.py check --settings=ecgportal.settings.test
	$(PY) manage.py makemigrations --check --dry-run --settings=ecgportal.settings.test
	$(PY) -m pytest $(PYTEST_ARGS)

# Retrain the shipped models (minutes on 2 cores; see ml/MODEL_CARD.md), then rewrite the card.
train: install
	for s in 1 2 3; do $(TRAIN) --protocol serve --epochs 20 --seed $$s --no-install --out .cache/runs/serve-s$$s || exit 1; done
	$(TRAIN) --protocol serve --ensemble-of .cache/runs/serve-s1,.cache/runs/serve-s2,.cache/runs/serve-s3 --out .cache/runs/serve
	for s in 1 2 3; do $(TRAIN) --protocol inter-patient --all-ds1 --epochs 6 --seed $$s --weight-power 0.75 --loss focal --out .cache/runs/inter-all-s$$s || exit 1; done
	$(TRAIN) --protocol inter-patient --ensemble-of .cache/runs/inter-all-s1,.cache/runs/inter-all-s2,.cache/runs/inter-all-s3 --out .cache/runs/inter-patient-all --install-inter
	$(PY) -m ml.train --data $(DATA)/ecg-images/train --protocol image-beats --epochs 20 --seed 1 --batch-size 128 --out .cache/runs/image-beats

# Compare inter-patient designs inside DS1 only (record-wise 4-fold cross-validation; never DS2).
select: install
	$(TRAIN) --protocol ds1-cv --epochs 6 --seed 1 --weight-power 0.75 --loss focal --out .cache/runs/cv/rhythm-head-s1
	$(TRAIN) --protocol ds1-cv --epochs 6 --seed 1 --weight-power 0.75 --loss focal --no-rhythm-head --out .cache/runs/cv/cnn-only-s1

evaluate: install
	$(PY) -m ml.evaluate_detector --data $(DATA)/mitdb --out ml/reports/rpeak_detection.md
	$(PY) -m ml.evaluate --data $(DATA) --runs .cache/runs

bench: install
	$(PY) bench/bench_inference.py

clean:
	rm -rf $(VENV) staticfiles .pytest_cache test-artifacts
