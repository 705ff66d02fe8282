/**
 * Benchmarks: `make bench` (scripts/bench.sh). Not part of `make test`: they print figures and assert
 * only that they ran. No global setup: the broker's worker runs as its own process and bundles itself.
 */
const base = require('./jest.config.js');
module.exports = {
  ...base,
  roots: ['<rootDir>/bench'],
  testMatch: ['**/*.bench.ts'],
  testPathIgnorePatterns: ['/node_modules/', '/lib/'],
  globalSetup: undefined,
  maxWorkers: 1,
  testTimeout: 60 * 60_000,
};
