/** Where the suites that run the built broker find it: the repository, `lib/broker/main.js`, the CLI. */
import * as path from 'node:path';

export const REPO_ROOT = path.join(__dirname, '..', '..');
/** The broker process, as `make start` and the image run it (built by scripts/build.sh). */
export const BROKER_MAIN = path.join(REPO_ROOT, 'lib', 'broker', 'main.js');
/** The `secret-broker` command. */
export const CLI_BIN = path.join(REPO_ROOT, 'bin', 'secret-broker');
