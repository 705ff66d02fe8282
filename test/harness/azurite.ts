/**
 * Azurite's Blob service (devDependency `azurite`, node_modules/.bin/azurite-blob) on a free
 * 127.0.0.1 port, in memory, for Storage shared-key checks. Accounts come from AZURITE_ACCOUNTS
 * ("name:key1:key2;name2:key1:key2", keys base64; azurite/dist/src/common/AccountDataStore.js): both
 * keys are accepted, and the built-in devstoreaccount1 is off once any account is given.
 *
 * Azurite reads AZURITE_ACCOUNTS from its own environment (once a minute), so a key change reaches
 * it only through a restart: `restart(accounts)` stops it and starts it again on the same port with
 * exactly the given keys, after which an old key fails. In-memory data is lost on restart; the
 * shared-key checks need none.
 *
 * Endpoints are path-style (http://127.0.0.1:PORT/<account>), the form @azure/storage-blob signs
 * correctly against an IP host. Plain http: the test CA is not needed.
 */
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { restartablePort, spawnServer, waitForPort, type ServerProcess } from './process';

export interface AzuriteAccount {
  name: string;
  key1: string;
  key2?: string;
}

export interface AzuriteBlob {
  port: number;
  /** http://127.0.0.1:PORT/<account> */
  endpoint(account: string): string;
  /** For RotatorDeps.azure.blobEndpoint: http://127.0.0.1:PORT/{account} */
  readonly endpointTemplate: string;
  /** Restarts Azurite on the same port knowing exactly these accounts and keys. */
  restart(accounts: AzuriteAccount[]): Promise<void>;
  /** The accounts Azurite currently knows. */
  accounts(): AzuriteAccount[];
  output(): string;
  stop(): Promise<void>;
}

const BIN = path.resolve(__dirname, '../../node_modules/.bin/azurite-blob');

function accountsEnv(accounts: AzuriteAccount[]): string {
  if (accounts.length === 0) throw new Error('Azurite needs at least one account');
  for (const a of accounts) {
    if (!/^[a-z0-9]{3,24}$/.test(a.name)) throw new Error(`Azurite account name "${a.name}" is not a Storage account name`);
    for (const k of [a.key1, a.key2]) if (k !== undefined && !/^[A-Za-z0-9+/]+={0,2}$/.test(k)) throw new Error(`a key of Azurite account ${a.name} is not base64`);
  }
  return accounts.map((a) => [a.name, a.key1, ...(a.key2 ? [a.key2] : [])].join(':')).join(';');
}

/** Any HTTP answer from the Blob service (400 without an account path is fine): it is serving. */
function answers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/', timeout: 2_000 }, (res) => {
      res.resume();
      resolve(true);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
  });
}

export async function startAzurite(initial: AzuriteAccount[]): Promise<AzuriteBlob> {
  if (!fs.existsSync(BIN)) throw new Error(`azurite-blob is not installed at ${BIN}: run npm ci (azurite is a devDependency)`);
  const port = await restartablePort(); // restart() keeps it: outside the ephemeral range
  // Azurite writes nothing with --inMemoryPersistence, but give it a working directory of its own.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'azurite-'));
  let current = [...initial];
  let server: ServerProcess | undefined;
  let log = '';

  async function launch(accounts: AzuriteAccount[]): Promise<void> {
    const env = { ...process.env, AZURITE_ACCOUNTS: accountsEnv(accounts) };
    const proc = spawnServer(
      BIN,
      ['--blobHost', '127.0.0.1', '--blobPort', String(port), '--inMemoryPersistence', '--extentMemoryLimit', '64', '--disableTelemetry', '--skipApiVersionCheck', '--silent'],
      { env, cwd: dir },
    );
    server = proc;
    try {
      await waitForPort(port, 30_000);
      const deadline = Date.now() + 30_000;
      while (!(await answers(port))) {
        if (proc.child.exitCode !== null) throw new Error(`azurite-blob exited: ${proc.output().slice(-2000)}`);
        if (Date.now() > deadline) throw new Error(`azurite-blob did not answer on port ${port}: ${proc.output().slice(-2000)}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    } catch (err) {
      await proc.stop();
      throw err;
    }
    current = accounts.map((a) => ({ ...a }));
  }

  // In memory there is nothing to flush: a restart kills at once (a graceful stop waits for
  // keep-alive connections to close).
  async function halt(signal: NodeJS.Signals): Promise<void> {
    if (!server) return;
    log += server.output();
    await server.stop(signal);
    server = undefined;
  }

  try {
    await launch(current);
  } catch (err) {
    fs.rmSync(dir, { recursive: true, force: true });
    throw err;
  }

  return {
    port,
    endpoint: (account) => `http://127.0.0.1:${port}/${account}`,
    endpointTemplate: `http://127.0.0.1:${port}/{account}`,
    async restart(accounts) {
      await halt('SIGKILL');
      await launch(accounts);
    },
    accounts: () => current.map((a) => ({ ...a })),
    output: () => log + (server?.output() ?? ''),
    async stop() {
      await halt('SIGTERM');
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
