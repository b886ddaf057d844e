# make demo: environment + the whole toy pipeline; make test: environment + the test suite;
# make test-learning: the toy teachers, then the learning suite (tests/test_learning);
# make toy-teachers: toy-clip, toy-dino, toy-mit and toy-clip-dense, trained here on toy data (cached under
# data/toy_teachers with stamps).
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: env demo test test-learning toy-teachers clean
env:
	VENV=$(VENV) bash tools/setup_env.sh

demo: env
	$(PY) tools/demo.py

test: env
	$(PY) -m pytest tests -q -p no:cacheprovider --durations=25

# the learning suite: each method's README direction at toy scale (not in make test: teachers + about 75 minutes)
test-learning: toy-teachers
	$(PY) -m pytest tests/test_learning -m learning -q -p no:cacheprovider -rs --durations=10

toy-teachers: env
	$(PY) tools/toy_teachers/build_toy_teachers.py --out data/toy_teachers
	$(PY) tools/toy_teachers/build_toy_clip_dense.py --out data/toy_teachers

clean:
	rm -rf work_dirs/demo data/toy_voc
