# make demo: environment + the whole toy pipeline; make test: environment + the test suite;
# make toy-teachers: toy-clip, toy-dino, toy-mit and toy-clip-dense, trained here on toy data (cached under
# data/toy_teachers with stamps).
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: env demo test toy-teachers clean
env:
	VENV=$(VENV) bash tools/setup_env.sh

demo: env
	$(PY) tools/demo.py

test: env
	$(PY) -m pytest tests -q -p no:cacheprovider --durations=25

toy-teachers: env
	$(PY) tools/toy_teachers/build_toy_teachers.py --out data/toy_teachers
	$(PY) tools/toy_teachers/build_toy_clip_dense.py --out data/toy_teachers

clean:
	rm -rf work_dirs/demo data/toy_voc
