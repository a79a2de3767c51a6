# The two commands of the README: `make demo` and `make test`. Both install what they need.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: install demo test bench clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[test]'
	touch $@

demo: install
	$(BIN)/omsync demo

test: install
	$(BIN)/python -m pytest -n 3 --dist loadfile

bench: install
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) data/om.sqlite* data/warehouse* data/.warehouse*
