# make demo: environment + the whole toy pipeline; make test: environment + the test suite.
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: env demo test clean
env:
	VENV=$(VENV) bash tools/setup_env.sh

demo: env
	$(PY) tools/demo.py

test: env
	$(PY) -m pytest tests -q -p no:cacheprovider

clean:
	rm -rf work_dirs/demo data/toy_voc
