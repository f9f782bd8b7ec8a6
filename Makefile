VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
EXAMPLES := $(wildcard examples/motifprobe-example-plugin/pyproject.toml)

.PHONY: install demo test bench mutate docs clean

$(PY):
	python3 -m venv $(VENV)

# Re-installs only when the project metadata changes, so both targets are idempotent.
$(STAMP): $(PY) pyproject.toml $(EXAMPLES)
	$(PY) -m pip install --quiet --upgrade pip "setuptools<81" wheel
	# torch first: this exact version is a CPU build on local disk; another spec may pull CUDA.
	$(PY) -m pip install --quiet torch==2.13.0
	# bench: tangermeme, the peer of `make bench`, so its side-by-side test runs here too.
	printf 'torch==2.13.0\n' > $(VENV)/torch-pin.txt
	$(PY) -m pip install --quiet -c $(VENV)/torch-pin.txt -e ".[dev,bench]"
	for ex in $(dir $(EXAMPLES)); do $(PY) -m pip install --quiet -e $$ex || exit 1; done
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	bash scripts/demo.sh

test: $(STAMP)
	$(PY) -m pytest -q -n 2

# Rerun the demo and rewrite the README's demo scorecard from its output (scripts/readme_demo.py).
docs: $(STAMP)
	bash scripts/demo.sh
	$(PY) scripts/readme_demo.py demo_out/compare

# The bench extra (tangermeme, the peer of benchmarks/peers.py) under the torch pin; without it
# the tangermeme rows say "not installed" and the rest runs.
bench: $(STAMP)
	printf 'torch==2.13.0\n' > $(VENV)/torch-pin.txt
	$(PY) -m pip install --quiet -c $(VENV)/torch-pin.txt -e ".[bench]" || \
		echo "make bench: could not install the bench extra (tangermeme); its rows will say 'not installed'"
	$(PY) benchmarks/run_all.py $(BENCH_ARGS)

# Mutation testing of the engine's statistics, scorecard, rules, parameters and interpretation
# (docs/testing.md); prints the survival rate per module. Not part of `make test`.
mutate: $(STAMP)
	$(PY) scripts/mutate.py $(GROUPS)

clean:
	rm -rf $(VENV) demo_out .pytest_cache
