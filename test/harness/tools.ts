/** Where the install scripts put the tools the tests run (see scripts/lib.sh). */
import * as os from 'node:os';
import * as path from 'node:path';
import * as fs from 'node:fs';

export const CACHE_DIR =
  process.env.SECRET_BROKER_CACHE ?? path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache'), 'secret-broker');
const VENV_BIN = path.join(CACHE_DIR, 'venv', 'bin');
export const GO_BIN = path.join(CACHE_DIR, 'gobin');

/** Resolve an installed tool, or fail with the command that installs it. */
export function tool(name: string, dir: string = VENV_BIN): string {
  const p = path.join(dir, name);
  if (!fs.existsSync(p)) {
    throw new Error(`${name} is not installed at ${p}: run scripts/install-test-deps.sh (make test does)`);
  }
  return p;
}
