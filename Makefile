.PHONY: start test build lint typecheck bench clean help

help: ## list targets
	@grep -E '^[a-z]+:.*##' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

start: ## run the broker on its embedded default (Temporal dev server + PGlite vault + local compute env)
	@scripts/start.sh

test: ## install the test peers, type-check, lint and run every test
	@scripts/test.sh

build: ## compile to lib/
	npx tsc -p tsconfig.build.json

typecheck: ## type-check everything, tests included
	npx tsc -p tsconfig.json --noEmit

lint: ## eslint (workflow determinism rules included)
	npx eslint --max-warnings 0 .

bench: ## benchmarks: launch and delete latency on the local compute environment, next to a baseline
	@scripts/install-test-deps.sh
	NODE_OPTIONS="--experimental-vm-modules --no-warnings=ExperimentalWarning" npx jest -c jest.bench.config.js

clean: ## remove build output (keeps .data/)
	rm -rf lib
