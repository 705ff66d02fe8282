/** Benchmarks: `make bench`. Not part of `make test`: they print figures and assert only completion. */
const base = require('./jest.config.js');
module.exports = { ...base, roots: ['<rootDir>/bench'], testMatch: ['**/*.bench.ts'], testPathIgnorePatterns: ['/node_modules/'], maxWorkers: 1 };
