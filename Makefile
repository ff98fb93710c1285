# The two commands: `make run` (set up and start the portal) and `make test` (set up and run every test).
PYTHON ?= python3.11
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
DATA ?= $(or $(ECG_DATA_DIR),../shared/data)
PORT ?= 8000
TRAIN = $(PY) -m ml.lab.train --data $(DATA)/mitdb

.PHONY: lock run test install install-test system-deps migrate seed worker train select evaluate bench clean screenshots

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

# Debian packages the tests need (Chromium for Playwright; fonts for screenshots/PDFs; nginx to
# check deploy/nginx.conf). Installing them needs root (or sudo); once both are on PATH this step
# does nothing.
system-deps:
	@if ! command -v chromium >/dev/null 2>&1 || ! PATH="$$PATH:/usr/sbin" command -v nginx >/dev/null 2>&1; then \
		if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
		$$SUDO apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core nginx >/dev/null; \
	fi

migrate: install
	$(PY) manage.py migrate --noinput

seed: migrate
	SITE_URL=$${SITE_URL:-http://$(HOST):$(PORT)} $(PY) manage.py seed_portal

# Links in emails point at the port actually served (SITE_URL), unless SITE_URL is set.
run: export SITE_URL ?= http://$(HOST):$(PORT)
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

# Regenerate docs/screenshots/ (the README's pictures) with the browser tests, against the services
# in DATABASE_URL and REDIS_URL (as `make test` uses them).
screenshots: install system-deps
	ECG_ARTIFACTS_DIR=docs/screenshots $(PY) -m pytest -m e2e -q predictions/tests/test_e2e.py \
		predictions/tests/test_e2e_doctors.py predictions/tests/test_e2e_reading.py usage/tests/test_browser.py
	rm -f docs/screenshots/*.log

# The recipe chosen by the patient-grouped cross-validation (`make select`; ml/MODEL_CARD.md, section 0).
RECIPE ?= --epochs 6 --seed 1 --weight-power 0.75 --loss focal
GCV = .cache/runs/gcv/A-svdb-focal

# Retrain the shipped models (about half an hour on 2 cores; see ml/MODEL_CARD.md), then rewrite the card.
# The grouped CV's out-of-fold beats calibrate the served model; DS2 is only ever a test.
train: install
	$(TRAIN) --protocol grouped-cv $(RECIPE) --out $(GCV)
	$(TRAIN) --protocol mitdb-to-svdb $(RECIPE) --out .cache/runs/mitdb-to-svdb
	$(TRAIN) --protocol serve $(RECIPE) --out .cache/runs/serve
	$(TRAIN) --protocol svdb-half $(RECIPE) --out .cache/runs/svdb-half
	$(PY) -m ml.lab.calibrate --fit .cache/runs/svdb-half --cv $(GCV) --cross .cache/runs/mitdb-to-svdb --install
	$(TRAIN) --protocol ds1-svdb-to-ds2 $(RECIPE) --out .cache/runs/ds1-svdb-to-ds2 --install-inter
	$(TRAIN) --protocol intra-patient $(RECIPE) --out .cache/runs/intra-patient
	$(PY) -m ml.lab.train --data $(DATA)/ecg-images/train --protocol image-beats --image-split file --plots-from $(DATA)/mitdb,$(DATA)/svdb --no-train-plots --epochs 20 --seed 1 --batch-size 128 --out .cache/runs/image-beats
	$(PY) -m ml.lab.rhythm_lab --data $(DATA) --beats --out ml/reports/rhythm.md

# Compare designs on patients held out: 4 folds of whole DS1 + SVDB records (never DS2).
select: install
	$(TRAIN) --protocol grouped-cv --epochs 6 --seed 1 --weight-power 0.75 --loss focal --out .cache/runs/gcv/A-svdb-focal
	$(TRAIN) --protocol grouped-cv --epochs 6 --seed 1 --weight-power 0.75 --loss focal --train-on mitdb --out .cache/runs/gcv/B-mitdb-only
	$(TRAIN) --protocol grouped-cv --epochs 6 --seed 1 --weight-power 0.75 --loss focal --no-rhythm-head --out .cache/runs/gcv/C-svdb-cnn-only
	$(TRAIN) --protocol grouped-cv --epochs 6 --seed 1 --weight-power 0.5 --loss ce --out .cache/runs/gcv/D-svdb-ce-wp05
	$(TRAIN) --protocol grouped-cv --epochs 6 --seed 1 --weight-power 0.75 --loss focal --noise $(DATA)/nstdb-noise --out .cache/runs/gcv/F-svdb-focal-noise
	$(PY) -m ml.lab.train --data $(DATA)/ecg-images/train --protocol image-beats --image-split recording --plots-from $(DATA)/mitdb,$(DATA)/svdb --epochs 20 --seed 1 --batch-size 128 --no-install --out .cache/runs/image-beats-by-recording
	$(PY) -m ml.lab.adapt_lab --data $(DATA) --cv .cache/runs/gcv/A-svdb-focal --out ml/reports/adaptation.md

evaluate: install
	$(PY) -m ml.lab.evaluate_detector --data $(DATA)/mitdb --out ml/reports/rpeak_detection.md
	$(PY) -m ml.lab.evaluate_detector --data $(DATA)/svdb --out ml/reports/rpeak_detection_svdb.md
	$(PY) -m ml.lab.evaluate --data $(DATA) --runs .cache/runs
	$(PY) -m ml.lab.rhythm_lab --data $(DATA) --beats --no-install --out ml/reports/rhythm.md

bench: install
	$(PY) bench/bench_inference.py

clean:
	rm -rf $(VENV) staticfiles .pytest_cache test-artifacts
