# divfit: `make site` builds everything, `make test` runs the test suite.
# Both set up what is missing first (.venv with the package and its test extras).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
JOBS   ?= $(shell nproc 2>/dev/null || echo 2)
QUALITY ?= medium
PORT   ?= 8000

.PHONY: site test bench serve clean setup

setup: $(STAMP)

$(STAMP): pyproject.toml tools/setup.sh
	@PYTHON=$(PYTHON) VENV=$(VENV) sh tools/setup.sh
	@touch $@

site: $(STAMP)
	@$(BIN)/divfit build --jobs $(JOBS) --quality $(QUALITY)

# the browser tests fail rather than skip when run from here
test: $(STAMP)
	@sh tools/setup.sh browser
	@DIVFIT_REQUIRE_BROWSER=1 $(BIN)/python -m pytest

bench: $(STAMP)
	@sh tools/setup.sh browser
	@sh tools/setup.sh lighthouse
	@$(BIN)/python bench/core.py
	@echo
	@$(BIN)/python bench/sweeps.py
	@echo
	@$(BIN)/python bench/render.py
	@echo
	@$(BIN)/python bench/reader.py
	@echo
	@$(BIN)/python bench/site.py

serve:
	@test -f build/site/index.html || { echo "no site yet: run 'make site' first"; exit 1; }
	@echo "serving build/site on http://127.0.0.1:$(PORT)/ (Ctrl-C stops)"
	@$(PYTHON) -m http.server --bind 127.0.0.1 --directory build/site $(PORT)

clean:
	rm -rf build
