# Set-up and entry points. Every target installs what it needs on a fresh machine.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: setup demo studio-demo test test-xr lint bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	# CPU build of torch from the local wheel store; on a GPU machine install your CUDA torch first.
	$(BIN)/python -c "import torch" 2>/dev/null || $(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q -e '.[studio,models,test,farm]'
	# PySceneDetect without its opencv-python dependency (we use opencv-contrib-python-headless).
	$(BIN)/python -m pip install -q --no-deps scenedetect==0.7.2
	touch $(STAMP)

setup: $(STAMP)

# The main job: convert the bundled demo clip into a side-by-side stereo master, weights-free.
demo: $(STAMP)
	mkdir -p out
	$(BIN)/spatialdreamer convert resources/demo/demo.mp4 -o out/demo_sbs.mp4 --layout sbs-full --overwrite

# The studio on the bundled demo clip (needs a display: an X server, or run it under xvfb-run).
studio-demo: $(STAMP)
	$(BIN)/spatialdreamer-studio resources/demo/demo.mp4

lint: $(STAMP)
	$(BIN)/ruff check engine studio tests bench resources
	$(BIN)/lint-imports

test: lint
	$(BIN)/python -m pytest --ignore=tests/xr

# The headset preview against a real OpenXR runtime (Monado in a Debian 13 chroot; root; builds the
# chroot at /var/cache/spatialdreamer/monado-trixie the first time, ~3 min). See README, "Headset test".
test-xr: $(STAMP)
	$(BIN)/python -m pytest tests/xr

bench: $(STAMP)
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) out .pytest_cache
