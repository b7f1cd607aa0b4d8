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

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q --durations=15

lint: $(STAMP)
	$(BIN)/ruff check .

schema: $(STAMP)
	$(BIN)/lab config schema --write schemas/

bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
