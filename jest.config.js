const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

// Every test peer, where the project's install scripts put it, and which suites need it. A missing
// peer stops the run at once, naming the peer and its install script: a suite is never left out
// because its peer is missing. One exception, said loudly on every run: the Google Secret Manager
// emulator, when no source it can be built from exists on this machine (the Go module proxy refuses
// its modules, and the workplace's shared copy lacks cmd/ and internal/server/: see
// scripts/test-deps.d/40-gcp-emulator.sh). Only then are its three suites left out, and
// scripts/test.sh prints them after the totals.
const cache = process.env.SECRET_BROKER_CACHE ?? path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache'), 'secret-broker');
const pgRoot = '/usr/lib/postgresql';
const PEERS = [
  { name: 'Temporal CLI (dev server)', script: 'scripts/install-tools.sh', files: [path.join(cache, 'venv/bin/temporal')] },
  { name: 'Temporal time-skipping test server', script: 'scripts/test-deps.d/05-temporal-test-server.sh', files: [path.join(cache, 'venv/bin/temporal-test-server')] },
  { name: 'PostgreSQL', script: 'scripts/test-deps.d/10-postgresql.sh', files: [fs.existsSync(pgRoot) && fs.readdirSync(pgRoot).length ? pgRoot : path.join(pgRoot, '<version>/bin/postgres')] },
  { name: 'OpenSSH sshd', script: 'scripts/test-deps.d/20-openssh.sh', files: ['/usr/sbin/sshd'] },
  { name: 'moto', script: 'scripts/test-deps.d/30-moto.sh', files: [path.join(cache, 'venv/bin/moto_server')] },
  { name: 'container registry', script: 'scripts/test-deps.d/50-docker-registry.sh', files: ['/usr/bin/docker-registry', '/usr/bin/htpasswd'] },
  { name: 'Azurite', script: 'npm ci (devDependency azurite)', files: [path.join(__dirname, 'node_modules/.bin/azurite-blob')] },
  {
    name: 'Google Secret Manager emulator',
    script: 'scripts/test-deps.d/40-gcp-emulator.sh',
    files: ['server-dual', 'gcp-iam-emulator'].map((b) => path.join(cache, 'gobin', b)),
    suites: ['test/targets/gcp.test.ts', 'test/targets/gcp-iam.test.ts', 'test/integration/gcp.test.ts'],
    unbuildableHere: () => !fs.existsSync(path.join(cache, 'src/gcp-secret-manager-emulator@v1.3.0/cmd/server-dual/main.go')) && !fs.existsSync(path.join(__dirname, '../shared/peers/gcp-src/gcp-secret-manager-emulator@v1.3.0/cmd/server-dual/main.go')),
  },
];
const ignored = ['/node_modules/', '/lib/'];
const leftOut = [];
for (const peer of PEERS) {
  const missing = peer.files.filter((f) => !fs.existsSync(f));
  if (!missing.length) continue;
  if (peer.suites && peer.unbuildableHere()) {
    leftOut.push(...peer.suites);
    ignored.push(...peer.suites.map((s) => `/${s.replace(/\./g, '\\.')}$`));
    process.stderr.write(`\n*** ${peer.name} is not installed and no source to build it from exists here (${peer.script}):\n*** ${peer.suites.join(', ')} do NOT run.\n\n`);
    continue;
  }
  throw new Error(`test peer missing: ${peer.name} (${missing.join(', ')}); install it with ${peer.script} (make test runs every install script)`);
}
process.env.BROKER_TEST_LEFT_OUT = leftOut.join(' ');

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
