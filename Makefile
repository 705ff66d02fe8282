.PHONY: start test build lint typecheck bench chaos clean help

help: ## list targets
	@grep -E '^[a-z]+:.*##' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

start: ## run the broker on its embedded default (Temporal dev server + PGlite vault + local compute env)
	@scripts/start.sh

test: ## install the test peers, type-check, lint and run every test
	@scripts/test.sh

build: ## compile to lib/ and bundle the workflows into lib/workflow-bundle.js (with Node 24, like every target: scripts/lib.sh)
	@scripts/run.sh scripts/build.sh

typecheck: ## type-check everything, tests included
	@scripts/run.sh npx tsc -p tsconfig.json --noEmit

lint: ## eslint (workflow determinism rules included), then knip (no unused files or exports: knip.jsonc)
	@scripts/run.sh npx eslint --max-warnings 0 .
	@scripts/run.sh npx knip --no-progress

bench: ## benchmarks beside their floors, on every platform (BENCH_QUICK=1: a few minutes); writes .data/bench/
	@scripts/bench.sh

chaos: ## chaos run: a few hundred runs while workers are killed, the dev server restarts and cloud calls fail (README: Reliability)
	@scripts/chaos.sh

clean: ## remove build output (keeps .data/)
	rm -rf lib
