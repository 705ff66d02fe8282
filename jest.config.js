const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

// The Google Secret Manager emulator cannot always be installed: the Go module proxy refuses its
// modules on some workplaces, and scripts/test-deps.d/40-gcp-emulator.sh then has no source to build
// from. Only then are the suites that need it left out, and the run says so loudly.
const cache = process.env.SECRET_BROKER_CACHE ?? path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache'), 'secret-broker');
const gcpEmulator = ['server-dual', 'gcp-iam-emulator'].every((b) => fs.existsSync(path.join(cache, 'gobin', b)));
const ignored = ['/node_modules/', '/lib/'];
if (!gcpEmulator) {
  ignored.push('/test/targets/gcp\\.test\\.ts$', '/test/targets/gcp-iam\\.test\\.ts$', '/test/integration/gcp\\.test\\.ts$');
  process.stderr.write(
    '\n*** The Google Secret Manager emulator is not installed (see scripts/test-deps.d/40-gcp-emulator.sh):\n' +
      '*** test/targets/gcp.test.ts, test/targets/gcp-iam.test.ts and test/integration/gcp.test.ts do NOT run.\n\n',
  );
}

/** @type {import('jest').Config} */
module.exports = {
  preset: 'ts-jest',
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  testPathIgnorePatterns: ignored,
  testTimeout: 120_000,
  // Integration suites start real servers; two at a time fits a 2-core machine.
  maxWorkers: 2,
  transform: { '^.+\\.ts$': 'ts-jest' },
  globalSetup: '<rootDir>/test/harness/global-setup.ts',
};
