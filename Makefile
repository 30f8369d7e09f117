# The two commands of the README: `make run` and `make check`.
BUILD   ?= build
DB      ?= ctms.db
LISTEN  ?= 127.0.0.1:8080

.PHONY: all setup build run check bench clean

all: build

setup:
	@scripts/setup

build: setup
	@[ -f $(BUILD)/build.ninja ] || meson setup $(BUILD) -Dbuildtype=release >/dev/null
	@ninja -C $(BUILD)

# Builds, creates the database with the demo portfolio on first run, and serves.
run: build
	@$(BUILD)/ctms init --db $(DB)
	@$(BUILD)/ctms demo --db $(DB)
	@scripts/demo-admin $(BUILD)/ctms $(DB)
	@$(BUILD)/ctms serve --db $(DB) --listen $(LISTEN)

check: setup
	@scripts/check

bench: build
	@bench/run

clean:
	rm -rf $(BUILD) build-asan
