# Strata: `make run` serves the console, `make test` runs every check CI runs.
#
# Everything slow to rebuild (cargo's target dir, wasm-bindgen, wasm-opt) lives in a cache
# outside the clone, so a fresh clone on the same machine builds incrementally.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

STRATA_CACHE ?= $(HOME)/.cache/strata
export CARGO_TARGET_DIR ?= $(STRATA_CACHE)/target
TOOLS := $(STRATA_CACHE)/tools
export PATH := $(TOOLS)/bin:$(TOOLS)/node_modules/.bin:$(PATH)

WASM_BINDGEN_VERSION := 0.2.130
BINARYEN_VERSION := 132.0.0
OPENAPI_VALIDATOR_VERSION := 0.9.0
SCHEMATHESIS_VERSION := 4.32.5
OPENFEATURE_SDK_VERSION := 0.10.0
OFREP_PROVIDER_VERSION := 0.3.0

SITE := $(CURDIR)/target/site
PKG := $(SITE)/pkg
WASM := $(CARGO_TARGET_DIR)/wasm32-unknown-unknown/wasm-release/frontend.wasm
STRATA := $(CARGO_TARGET_DIR)/release/strata
# Features of the wasm32 target that rustc emits by default; wasm-opt must accept them.
WASM_FEATURES := --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext \
	--enable-mutable-globals --enable-reference-types --enable-multivalue

# Writes FILE.br (brotli, best) and FILE.gz (gzip -9) beside every file of a directory.
define PRECOMPRESS
const fs = require("fs"), zlib = require("zlib"), dir = process.argv[1];
for (const name of fs.readdirSync(dir)) {
  const path = `$${dir}/$${name}`;
  if (!fs.statSync(path).isFile()) continue;
  const body = fs.readFileSync(path);
  fs.writeFileSync(`$${path}.br`, zlib.brotliCompressSync(body, { params: {
    [zlib.constants.BROTLI_PARAM_QUALITY]: 11, [zlib.constants.BROTLI_PARAM_SIZE_HINT]: body.length } }));
  fs.writeFileSync(`$${path}.gz`, zlib.gzipSync(body, { level: 9 }));
}
endef
export PRECOMPRESS

.PHONY: help run test tools site server lint unit-test pg-test outage-test api-doc ofrep-test e2e browser bench bench-scale clean

help:
	@echo "make run   build the release site and serve the console on http://127.0.0.1:3000"
	@echo "make test  fmt, clippy, unit and integration tests (SQLite, then PostgreSQL when"
	@echo "           TEST_DATABASE_URL is set) and the end2end suite in Chromium"
	@echo "make bench resolution benchmarks (criterion) and HTTP throughput (wrk)"
	@echo "make bench-scale  the DESIGN §8 platform: import, memory, writes, reads, watch, replicas"

run: site server
	@mkdir -p data
	"$(STRATA)" demo --if-empty
	STRATA_SITE_ROOT="$(SITE)" "$(STRATA)" serve

test: lint unit-test pg-test outage-test api-doc ofrep-test e2e

## Build tools, installed once into the cache when missing or of the wrong version.
tools:
	@rustup target list --installed | grep -qx wasm32-unknown-unknown \
		|| rustup target add wasm32-unknown-unknown
	@wasm-bindgen --version 2>/dev/null | grep -qF " $(WASM_BINDGEN_VERSION)" \
		|| cargo install --root "$(TOOLS)" wasm-bindgen-cli --version "=$(WASM_BINDGEN_VERSION)" --force
	@[ -x "$(TOOLS)/node_modules/.bin/wasm-opt" ] \
		|| npm install --prefix "$(TOOLS)" --no-save --no-audit --no-fund "binaryen@$(BINARYEN_VERSION)"
	@[ -x "$(TOOLS)/venv/bin/openapi-spec-validator" ] \
		|| { python3 -m venv "$(TOOLS)/venv" \
			&& "$(TOOLS)/venv/bin/pip" install --quiet "openapi-spec-validator==$(OPENAPI_VALIDATOR_VERSION)"; }
	@"$(TOOLS)/venv/bin/schemathesis" --version 2>/dev/null | grep -qF " $(SCHEMATHESIS_VERSION)" \
		|| "$(TOOLS)/venv/bin/pip" install --quiet "schemathesis==$(SCHEMATHESIS_VERSION)"
	@"$(TOOLS)/venv/bin/pip" show openfeature-provider-ofrep 2>/dev/null | grep -qx "Version: $(OFREP_PROVIDER_VERSION)" \
		|| "$(TOOLS)/venv/bin/pip" install --quiet "openfeature-sdk==$(OPENFEATURE_SDK_VERSION)" \
			"openfeature-provider-ofrep==$(OFREP_PROVIDER_VERSION)"

## The browser half: wasm, its JS glue and the CSS, in the layout Leptos expects.
site: tools
	cargo build -p frontend --lib --target wasm32-unknown-unknown --profile wasm-release
	rm -rf "$(PKG).tmp" && mkdir -p "$(PKG).tmp"
	wasm-bindgen --target web --no-typescript --out-dir "$(PKG).tmp" --out-name strata "$(WASM)"
	wasm-opt -Oz $(WASM_FEATURES) "$(PKG).tmp/strata_bg.wasm" -o "$(PKG).tmp/strata_bg.wasm"
	cp style/main.css "$(PKG).tmp/strata.css"
	@# Named by content, so browsers keep them for good; stored as brotli and gzip too.
	hash=$$(cat "$(PKG).tmp/strata.js" "$(PKG).tmp/strata_bg.wasm" "$(PKG).tmp/strata.css" \
		| sha256sum | cut -c1-16); \
	mv "$(PKG).tmp/strata.js" "$(PKG).tmp/strata.$$hash.js"; \
	mv "$(PKG).tmp/strata_bg.wasm" "$(PKG).tmp/strata.$${hash}_bg.wasm"; \
	mv "$(PKG).tmp/strata.css" "$(PKG).tmp/strata.$$hash.css"
	node -e "$$PRECOMPRESS" "$(PKG).tmp"
	cp -r style/assets/. "$(SITE)/"
	rm -rf "$(PKG)" && mv "$(PKG).tmp" "$(PKG)"

server:
	cargo build -p server --release --bin strata

## The OpenAPI document the server serves, checked by an independent validator, then held
## to the server itself: schemathesis runs every operation with all checks (seeded data).
api-doc: tools server
	"$(STRATA)" openapi > "$(CARGO_TARGET_DIR)/openapi.json"
	"$(TOOLS)/venv/bin/openapi-spec-validator" "$(CARGO_TARGET_DIR)/openapi.json"
	server/tests/schemathesis.sh "$(STRATA)" "$(TOOLS)/venv/bin/schemathesis"

## OFREP read by a real OpenFeature SDK (Python, with the OFREP provider).
ofrep-test: tools server
	server/tests/ofrep.sh "$(STRATA)" "$(TOOLS)/venv/bin/python"

lint: tools
	cargo fmt --all -- --check
	cargo clippy -p app -p server -p migrations --all-targets -- -D warnings
	cargo clippy -p frontend --target wasm32-unknown-unknown -- -D warnings

## Unit and integration tests on SQLite.
unit-test:
	env -u STRATA_TEST_BACKEND cargo test -p app -p server -p migrations

## The database integration tests (every tests/*.rs) again on PostgreSQL.
pg-test:
	@if [ -n "$${TEST_DATABASE_URL:-}" ]; then \
		STRATA_TEST_BACKEND=postgres cargo test -p app -p server --test '*'; \
	else \
		echo "TEST_DATABASE_URL is not set: skipping the PostgreSQL run"; \
	fi

## PostgreSQL stopped and started under a running release server (a throw-away cluster).
outage-test: server
	@if ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then \
		server/tests/outage.sh "$(STRATA)"; \
	else \
		echo "no PostgreSQL server binaries: skipping the outage test"; \
	fi

browser:
	@command -v chromium >/dev/null \
		|| (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium)

end2end/node_modules: end2end/package.json end2end/package-lock.json
	cd end2end && npm ci --no-audit --no-fund
	@touch end2end/node_modules

## The console in a real browser against the release build.
e2e: site server browser end2end/node_modules
	cd end2end && STRATA_BIN="$(STRATA)" STRATA_SITE_ROOT="$(SITE)" npx playwright test

## Benchmarks (not part of make test): criterion for resolution, wrk for the HTTP API.
bench: server
	cargo bench -p app --bench resolve
	cargo bench -p app --bench impact
	cargo bench -p app --features ssr --bench editor
	server/bench/http_load.sh "$(STRATA)"

## DESIGN §8 at full size (1,000 tenants, 1,000,000 entries), every figure beside its target.
## Not part of make test: it takes several minutes.
bench-scale: server
	cargo build -p server --release --example scale
	server/bench/scale.sh "$(STRATA)" "$(CARGO_TARGET_DIR)/release/examples/scale"

clean:
	rm -rf target data end2end/test-results end2end/output
