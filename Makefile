# Two commands from a fresh clone with only python3 (3.10+): `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
UV_VERSION := 0.13.9
UV := $(VENV)/bin/uv
STAMP := $(VENV)/.synced-stamp
# The compatibility leg: the newest Airflow 3.1.x next to the locked (newest 3.x) release.
AIRFLOW_31 := 3.1.8
VENV31 := .venv-airflow31
# This leg is resolved afresh (uv.lock pins the newest Airflow). cryptography 51 made Fernet a Rust class that
# refuses the attribute Airflow 3.1's models/crypto.py sets on it: every connection and Variable lookup then
# fails ("Connection not found"), so the leg stays on the cryptography release uv.lock has.
AIRFLOW_31_PINS := "cryptography<51"

.PHONY: venv test test-fast test-airflow31 lint format demo bench sandbox tour-env tour-stop clean

venv: $(STAMP)

$(STAMP): pyproject.toml uv.lock
	@test -x $(UV) || { $(PYTHON) -m venv $(VENV) && $(VENV)/bin/python -m pip install -q "uv==$(UV_VERSION)"; }
	$(UV) sync --frozen --python $(VENV)/bin/python
	@touch $@

test: $(STAMP)  ## the whole suite (PostgreSQL tests run when 127.0.0.1:5432 answers; under CI=true they must)
	$(VENV)/bin/python -m pytest

test-fast: $(STAMP)  ## unit tests only
	$(VENV)/bin/python -m pytest -m "not integration"

test-airflow31: $(STAMP)  ## the same suite against Airflow $(AIRFLOW_31)
	@test -x $(VENV31)/bin/python || $(UV) venv -q --python $(VENV)/bin/python $(VENV31)
	$(UV) pip install -q --python $(VENV31)/bin/python -e . --group dev "apache-airflow==$(AIRFLOW_31)" $(AIRFLOW_31_PINS)
	$(VENV31)/bin/python -m pytest

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

format: $(STAMP)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

sandbox: $(STAMP)  ## run the local MTA sandbox on 127.0.0.1:8787
	$(VENV)/bin/python -m airflow_provider_mta.sandbox --host 127.0.0.1 --port 8787

tour-env: $(STAMP)  ## the README tour: sandbox in the background, .tour/airflow.env to `source` (TOUR_PORT=8787)
	$(VENV)/bin/python scripts/tour.py env

tour-stop:  ## stop the tour's sandbox (.tour/ stays; `rm -rf .tour` removes it)
	$(VENV)/bin/python scripts/tour.py stop

demo: $(STAMP)  ## KEEP=1 keeps the sandbox, its inbox page and the logs at the end (until Ctrl-C)
	$(VENV)/bin/python scripts/demo.py$(if $(filter-out 0 no false,$(KEEP)), --keep)

# Benchmarks (bench/, not part of `make test`; results in bench/RESULTS.md). The full run takes about
# 20 minutes (1,000,000 PostgreSQL rows, a one-minute send and its 1,000-send baseline), plus about 5 for
# the outage pages (21 of them wait out MTA's 5 s timeouts), plus about 8 for the scale-out and 5 for
# the pages during a batch (both need Redis on 127.0.0.1:6379); BENCH_QUICK=1 runs each at a small size
# in about seven. BENCH_MEMORY_ROWS picks the memory case's row count.
ifdef BENCH_QUICK
BENCH_MEMORY_ROWS ?= 100000
BENCH_THROUGHPUT_ARGS ?= --recipients 20000 --target-seconds 15 --baseline-recipients 100
BENCH_CPU_ARGS ?= --rows 20000 --repeat 2
BENCH_PARSE_ARGS ?= --runs 3
BENCH_FAILOVER_ARGS ?= --quick
BENCH_SCALE_ARGS ?= --quick
BENCH_PAGES_ARGS ?= --quick
else
BENCH_MEMORY_ROWS ?= 1000000
BENCH_THROUGHPUT_ARGS ?= --recipients 100000 --target-seconds 60 --baseline-recipients 1000
BENCH_CPU_ARGS ?= --rows 100000 --repeat 3
BENCH_PARSE_ARGS ?= --runs 7
BENCH_FAILOVER_ARGS ?= --pages 10 --timeout 5 --max-retries 2
BENCH_SCALE_ARGS ?= --recipients 40000
BENCH_PAGES_ARGS ?= --recipients 24000 --pages 10
endif

bench: $(STAMP)  ## throughput, memory (needs PostgreSQL on 127.0.0.1:5432), CPU per message, DAG-parse cost, paging in an outage, scale-out, sensor requests, pages during a batch, sensor with webhooks
	@echo "== 1. Throughput against the rate limit =="
	$(VENV)/bin/python bench/throughput.py $(BENCH_THROUGHPUT_ARGS)
	@echo "== 2. Memory: $(BENCH_MEMORY_ROWS) PostgreSQL rows =="
	$(VENV)/bin/python bench/batch_memory.py --rows $(BENCH_MEMORY_ROWS)
	@echo "== 3. CPU per message =="
	$(VENV)/bin/python bench/cpu_per_message.py $(BENCH_CPU_ARGS)
	@echo "== 4. DAG-parse and import cost =="
	$(VENV)/bin/python bench/dag_parse.py $(BENCH_PARSE_ARGS)
	@echo "== 5. Paging during a full SMS-vendor outage (MTA times out, Telnyx as fallback) =="
	$(VENV)/bin/python bench/page_failover.py $(BENCH_FAILOVER_ARGS)
	@echo "== 6. Scale-out: 1, 2, 4, 8 processes sharing one account's limit (needs Redis on 127.0.0.1:6379) =="
	$(VENV)/bin/python bench/scale_out.py $(BENCH_SCALE_ARGS)
	@echo "== 7. Delivery sensor: requests per check for 1,000, 20,000 and 100,000 recipients =="
	$(VENV)/bin/python bench/sensor_requests.py
	@echo "== 8. Pages during a batch: 10 pages while 8 processes send (needs Redis on 127.0.0.1:6379) =="
	$(VENV)/bin/python bench/page_latency.py $(BENCH_PAGES_ARGS)
	@echo "== 9. Delivery sensor with and without webhooks, 100,000 recipients =="
	$(VENV)/bin/python bench/sensor_webhooks.py

clean:
	rm -rf $(VENV) $(VENV31) .pytest_cache .mypy_cache .ruff_cache
