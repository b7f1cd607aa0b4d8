# Two commands set everything up on a fresh machine: `make demo` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install wireguard demo test lint bench clean schema

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

wireguard:  # best effort: full-device capture needs userspace WireGuard (root, apt-get)
	@command -v wireguard-go >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 \
	  && timeout 600 sh -c 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends wireguard-go wireguard-tools iproute2 >/dev/null' ; } \
	  || echo "wireguard-go not installed: the demo uses the explicit proxy"

demo: $(STAMP) wireguard
	$(BIN)/lab run profiles/demo.yaml --device virtual:vendor-1.0 --report

# Two pytest-xdist workers, each given whole test files (a file's module fixtures stay in one
# process; each worker's session starts its own adb server). `make test TEST_WORKERS=0` runs
# everything in one process.
TEST_WORKERS ?= 2
test: $(STAMP)
	$(BIN)/ruff check .
	@echo "pytest: $(TEST_WORKERS) worker processes (pytest-xdist, --dist loadfile)"
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist loadfile --durations=15

lint: $(STAMP)
	$(BIN)/ruff check .

schema: $(STAMP)
	$(BIN)/lab config schema --write schemas/

bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
