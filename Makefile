# Everything runs inside .venv, made from the machine's python3 on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo cluster-demo test test-browser lint typecheck pytest bench bench-aio bench-durable bench-durable-js bench-nats bench-remote bench-smoke kill-durable format clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/python examples/bank_demo.py

# Three node processes over a nats-server it starts: a shared work queue and a topic, one node
# killed with SIGKILL, the others carrying on.
cluster-demo: $(STAMP)
	$(BIN)/python examples/cluster/cluster_demo.py

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy
	for conftest in tests/*/conftest.py; do $(BIN)/mypy "$$conftest" || exit 1; done

pytest: $(STAMP)
	$(BIN)/pytest -q

test: lint typecheck pytest

# The live view's browser test: Debian's chromium driven headless (installed with
# apt-get where the machine allows it; the script says so where it cannot).
test-browser: $(STAMP)
	scripts/install-chromium.sh
	$(BIN)/pytest -q tests/browser

bench: $(STAMP)
	$(BIN)/python -m bench

# The asyncio bridge against native Trio, and an HTTP endpoint asking an actor (uses wrk if
# it is installed: apt-get install wrk).
bench-aio: $(STAMP)
	$(BIN)/python -m bench.aio_bench

# Durable mailboxes against raw sqlite3 and the Python peers (litequeue, huey), with the
# disk's fsync regime; and the kill -9 proof: a durable pipeline killed 40 times.
bench-durable: $(STAMP)
	$(BIN)/python -m bench.durable_bench

# Durable mailboxes on JetStream against nats-py's JetStream publish and pull (starts its own
# nats-server, synced to disk on every write).
bench-durable-js: $(STAMP)
	$(BIN)/python -m bench.durable_js_bench

kill-durable: $(STAMP)
	$(BIN)/python -m bench.durable_kill --kills 40

# The NATS client against nats-py on asyncio (starts its own nats-server).
bench-nats: $(STAMP)
	$(BIN)/python -m bench.nats_client

# Nodes over NATS, two processes: remote tell and ask against nats-py pub/sub and request/reply,
# and a CPU-bound work queue on one and two worker processes.
bench-remote: $(STAMP)
	$(BIN)/python -m bench.remote_bench

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis
