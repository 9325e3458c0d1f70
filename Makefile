# The two commands of the README: `make run` (the whole pipeline) and `make test`.
# Both create .venv and install requirements.txt first, so a fresh clone needs nothing else.
# Pass-through settings: MNIST_MIRROR=URL (a mirror of the four idx .gz files), EPOCHS=N.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
export MNIST_MIRROR

.PHONY: run test test-fast venv browser data train evaluate export predict serve benchmark clean

run: data train evaluate export predict
	@echo
	@echo "Done. Test accuracy $$($(PY) -c "import json; print(format(json.load(open('reports/metrics.json'))['accuracy'], '.2%'))") on MNIST's 10,000 test digits."
	@echo "  the model:   models/digit_cnn.keras, its exports models/digit_cnn.tflite and models/digit_cnn_int8.tflite"
	@echo "  the reports: reports/ (metrics.json, training_curves.png, confusion_matrix.png, misclassified.png, reliability.png)"
	@echo "Next:"
	@echo "  .venv/bin/python predict.py YOUR_PICTURE.jpg --show seen.png   # read your own pictures, see what the model saw"
	@echo "  make serve                                                     # draw digits on a page at http://127.0.0.1:8000"
	@echo "  make test                                                      # the tests, the real MNIST ones included"

venv: $(VENV)/.installed

# Reinstalls only when requirements.txt changes.
$(VENV)/.installed: requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

data: venv
	$(PY) preprocess.py

train: venv
	$(PY) train.py $(if $(EPOCHS),--epochs $(EPOCHS))

evaluate: venv
	$(PY) evaluate.py

export: venv
	$(PY) export.py

predict: venv
	$(PY) predict.py examples

# The page and its API at http://127.0.0.1:8000 (serve.py --help: --host, --port, --model).
serve: venv
	$(PY) serve.py

test: venv browser
	$(PY) -m pytest

test-fast: venv browser
	$(PY) -m pytest -m "not slow"

# The page's browser test drives Debian's Chromium and its driver: installed with apt-get when
# missing, as root or through sudo without a password. Where that cannot be done, the test
# is skipped with its reason and the others run; later runs do not try again until
# $(VENV)/.no-browser is removed (an offline apt-get can take minutes to fail).
browser:
	@if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then :; \
	elif [ -e $(VENV)/.no-browser ]; then \
	    echo "no chromium: the browser test will be skipped (rm $(VENV)/.no-browser to install it)"; \
	else \
	    as_root=""; [ "$$(id -u)" -eq 0 ] || as_root="sudo -n"; \
	    echo "installing chromium and chromium-driver for the browser test (apt-get)"; \
	    { command -v apt-get && $$as_root timeout 600 apt-get update -qq \
	      && $$as_root env DEBIAN_FRONTEND=noninteractive timeout 1200 apt-get install -y -qq \
	         chromium chromium-driver; } >/dev/null 2>&1 \
	    || { echo "  could not (no apt-get, no root, or no package): the browser test will be skipped"; \
	         touch $(VENV)/.no-browser 2>/dev/null || true; }; \
	fi

benchmark: venv
	$(PY) -m benchmarks.train_speed

clean:
	rm -rf data models reports runs
