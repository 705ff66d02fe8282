/** The broker's version from package.json, for the OpenAPI document and the CLI's --version (found from source or lib/). */
import * as fs from 'node:fs';
import * as path from 'node:path';

export function packageVersion(): string {
  for (let dir = __dirname; dir !== path.dirname(dir); dir = path.dirname(dir)) {
    const file = path.join(dir, 'package.json');
    if (fs.existsSync(file)) {
      const pkg = JSON.parse(fs.readFileSync(file, 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'secret-broker' && pkg.version) return pkg.version;
    }
  }
  return 'unknown';
}
