# Two entry points: `make demo` (index the sample corpus and answer a question) and `make test`.
# Both create and reuse .venv; pip caches the llama-cpp-python wheel it builds the first time.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DEMO_HOME ?= .demo-home
QUESTION ?= What database did Project Heron move to, and why?
export HF_HUB_OFFLINE := 1
# A portable llama.cpp build: a native build turns on ggml's AMX path on Sapphire Rapids hosts,
# which segfaults in llama_decode (ggml-org/llama.cpp#20824). LLAVA is not needed.
export CMAKE_ARGS ?= -DLLAVA_BUILD=OFF -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON

# pip does not cache wheels it builds from this machine's local package mirror, so the
# llama-cpp-python wheel is built once into this folder and found there by every later install.
WHEELS ?= $(HOME)/.cache/assistant/wheels
LLAMA_CPP := llama-cpp-python==$(shell sed -n 's/^llama-cpp-python==//p' constraints.txt)

.PHONY: install demo test bench clean

$(BIN)/.installed: pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -c constraints.txt torch
	ls $(WHEELS)/llama_cpp_python-* >/dev/null 2>&1 || $(BIN)/python -m pip wheel -q --no-deps -w $(WHEELS) "$(LLAMA_CPP)"
	$(BIN)/python -m pip install -q -c constraints.txt --find-links $(WHEELS) -e ".[test]"
	touch $@

install: $(BIN)/.installed

demo: install
	ASSISTANT_HOME=$(DEMO_HOME) $(BIN)/assistant index corpus
	ASSISTANT_HOME=$(DEMO_HOME) $(BIN)/assistant status
	ASSISTANT_HOME=$(DEMO_HOME) $(BIN)/assistant ask "$(QUESTION)"

test: install
	$(BIN)/python -m pytest -q -p no:cacheprovider

bench: install
	$(BIN)/python scripts/bench_sift.py
	$(BIN)/python scripts/bench_index.py
	$(BIN)/python scripts/bench_tune.py
	$(BIN)/python scripts/bench_ask.py

clean:
	rm -rf $(VENV) $(DEMO_HOME) .bench
