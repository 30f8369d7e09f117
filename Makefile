# The two commands of the README: `make run` and `make check`.
BUILD   ?= build
DB      ?= ctms.db
LISTEN  ?= 127.0.0.1:8080

.PHONY: all setup build web run check bench web-bench clean

all: build

setup:
	@scripts/setup

build: setup
	@[ -f $(BUILD)/build.ninja ] || meson setup $(BUILD) -Dbuildtype=release >/dev/null
	@ninja -C $(BUILD)

# The web application, built into web/dist (served by ctms serve) when its
# sources are newer than the last build.
web: setup
	@if [ ! -f web/dist/index.html ] || [ -n "$$(find web/src web/index.html web/package.json web/vite.config.ts -newer web/dist/index.html | head -1)" ]; then \
	  echo "building the web application"; (cd web && npm run --silent build >/dev/null); fi

# Builds, creates the database with the demo portfolio on first run (the
# small synthetic portfolio, then the real CDISC SDTM pilot study and the
# ClinicalTrials.gov studies of data/), and serves.
run: build web
	@fresh=$$([ -e "$(DB)" ] || echo yes); \
	$(BUILD)/ctms init --db $(DB) && $(BUILD)/ctms demo --db $(DB) || exit 1; \
	if [ -n "$$fresh" ]; then \
	  echo "loading real trials: the CDISC SDTM pilot and the ClinicalTrials.gov studies"; \
	  log=$$(mktemp) || exit 1; \
	  $(BUILD)/ctms import sdtm --db $(DB) --consent-on-screening data/sdtm-cdiscpilot01 >$$log && \
	  grep -E '^(study-sites|subjects|visits|adverse events|exposure records):' $$log && \
	  $(BUILD)/ctms import ctgov --db $(DB) data/ctgov/studies.jsonl >$$log && \
	  grep -E '^(studies|study-sites):' $$log; \
	  rc=$$?; rm -f $$log; [ $$rc -eq 0 ] || exit $$rc; \
	fi
	@scripts/demo-admin $(BUILD)/ctms $(DB) $(LISTEN)
	@$(BUILD)/ctms serve --db $(DB) --listen $(LISTEN)

check: setup
	@scripts/check

bench: build
	@bench/run

# The web application's portfolio load time, into bench/web.md.
web-bench: build web
	@cd tests/web && CTMS_WEB_BENCH_RECORD=1 CTMS_BIN=$(CURDIR)/$(BUILD)/ctms \
	  PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npx playwright test bench.spec.mjs

clean:
	rm -rf $(BUILD) build-asan
