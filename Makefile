# make demo: build a model from the bundled sample and query it.  make test: the test suite.
PYTHON ?= python3
VENV   := .venv
STAMP  := $(VENV)/.installed
NGRAM  := $(VENV)/bin/ngram
DEMO   := demo-out/model

.PHONY: venv install demo test bench kenlm-venv lmplz bench-kn spell-peers clean

venv install: $(STAMP)

# Re-installs only when pyproject.toml changes (the stamp is older than it).
$(STAMP): pyproject.toml
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q -e '.[test]'
	# pyctcdecode (tests/test_pyctcdecode_facade.py) declares numpy<2 but runs on numpy 2:
	# installed without its dependencies (pygtrie is in the test extra) so numpy stays at 2
	$(VENV)/bin/pip install -q --no-deps 'pyctcdecode>=0.5'
	touch $(STAMP)

demo: $(STAMP)
	$(NGRAM) build samples/en-sample.txt.zst --out $(DEMO) --order 5 --shards 4
	$(NGRAM) index-successors $(DEMO)
	$(NGRAM) info $(DEMO)
	$(NGRAM) count $(DEMO) "of the" "in the same way" "the King James" "colorless green ideas"
	head -n 20 samples/en-heldout-sample.txt | $(NGRAM) score $(DEMO) -
	# the same model served by a local cluster: a decoder round, scoring and predictions over gRPC
	$(VENV)/bin/python -m client.demo $(DEMO)

test: $(STAMP)
	$(VENV)/bin/python -m pytest -q -x --timeout=600

# The peers the arpa, facade and decode suites measure against in one process (the kenlm
# module, pyctcdecode), in a venv of its own beside this project: the project itself
# never needs them.
KENLM_VENV := .kenlm-venv
kenlm-venv: $(KENLM_VENV)/.installed
$(KENLM_VENV)/.installed: pyproject.toml
	test -x $(KENLM_VENV)/bin/python || $(PYTHON) -m venv $(KENLM_VENV)
	$(KENLM_VENV)/bin/pip install -q -e . kenlm 'pygtrie>=2.1,<3'
	$(KENLM_VENV)/bin/pip install -q --no-deps 'pyctcdecode>=0.5'
	touch $@

bench: $(STAMP) kenlm-venv spell-peers
	KENLM_PYTHON=$(KENLM_VENV)/bin/python $(VENV)/bin/python bench/run_all.py

# The open spelling correctors the spell suite measures (bench/spell_peers.py), in this venv:
# symspellpy and pyspellchecker (the spell-bench extra), and JamSpell's sdist, built with
# SWIG 3 from that extra (hence no build isolation, and the venv's bin on PATH). JamSpell's
# library aborts without an en_US.UTF-8 locale: one is compiled into build/locale (from the
# `locales` package's sources) unless the system has it; bench/spell_peers.py uses it.
JAMSPELL_VERSION := 0.0.12
SPELL_PEERS := $(VENV)/.spell-peers
spell-peers: $(SPELL_PEERS)
$(SPELL_PEERS): $(STAMP)
	$(VENV)/bin/pip install -q -e '.[spell-bench]'
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(VENV)/bin/pip install -q --no-build-isolation jamspell==$(JAMSPELL_VERSION)
	locale -a | grep -qi '^en_US\.utf-\?8$$' || test -d build/locale/en_US.utf8 || { mkdir -p build/locale && \
	  localedef -i en_US -f UTF-8 build/locale/en_US.utf8 || { echo "localedef failed: apt-get install locales"; exit 1; }; }
	touch $@

# KenLM's lmplz, built from the kenlm sdist on PyPI (the peer of bench/bench_kn.py). Needs
# cmake, a C++ compiler and Boost: apt-get install cmake g++ libboost-program-options-dev
# libboost-system-dev libboost-thread-dev libboost-test-dev zlib1g-dev
KENLM_VERSION := 0.3.0
LMPLZ := build/kenlm-$(KENLM_VERSION)/build/bin/lmplz
lmplz: $(LMPLZ)
$(LMPLZ):
	mkdir -p build
	$(PYTHON) -m pip download --no-deps --no-binary kenlm -d build kenlm==$(KENLM_VERSION)
	tar -xzf build/kenlm-$(KENLM_VERSION).tar.gz -C build
	cmake -S build/kenlm-$(KENLM_VERSION) -B build/kenlm-$(KENLM_VERSION)/build -DCMAKE_BUILD_TYPE=Release
	$(MAKE) -C build/kenlm-$(KENLM_VERSION)/build lmplz

bench-kn: $(STAMP) $(LMPLZ)
	$(VENV)/bin/python bench/bench_kn.py exactness
	$(VENV)/bin/python bench/bench_kn.py perplexity
	$(VENV)/bin/python bench/bench_kn.py speed --lmplz $(LMPLZ)

clean:
	rm -rf demo-out
