/**
 * The two databases every vault suite runs on: PGlite (embedded, files under the data dir) and a
 * real PostgreSQL server started by test/harness/postgres.ts. `useBackend` registers the suite's
 * beforeAll/afterAll and hands out fresh, empty vault locations.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ValidationError, VaultKeyError } from '../../domain/errors';
import { openDb, pgliteDir } from '../../store/db';
import { openVault, type VaultOptions } from '../../store/vault';
import type { CredentialKind } from '../../credentials';
import type { PlatformSpec } from '../../platforms';
import { platformSpec } from '../../platforms';
import type { Platform } from '../../domain/run';
import { startPostgres, type PostgresServer } from '../harness/postgres';

export type BackendName = 'pglite' | 'postgresql';
export const BACKENDS: [BackendName][] = [['pglite'], ['postgresql']];

export interface Location {
  dataDir: string;
  databaseUrl?: string;
  /** Database name on the PostgreSQL server. */
  database?: string;
}

export interface BackendHandle {
  readonly name: BackendName;
  /** A new empty vault location (own data dir; own database on PostgreSQL). */
  fresh(): Promise<Location>;
  /** Directories holding the database files of a location (after `flush`). */
  databaseFiles(loc: Location): string[];
  /** Make the server write what it holds in memory to its data files (PostgreSQL CHECKPOINT). */
  flush(loc: Location): Promise<void>;
  server(): PostgresServer | undefined;
}

/** One initdb'd PGlite cluster per suite, copied for every fresh vault (initdb takes seconds). */
function pgliteTemplate(root: string): Promise<string> {
  return (async () => {
    const db = await openDb({ dataDir: root });
    await db.close();
    return pgliteDir(root);
  })();
}

export function useBackend(name: BackendName): BackendHandle {
  let pg: PostgresServer | undefined;
  const dirs: string[] = [];
  let n = 0;
  const tmp = (prefix: string) => {
    const d = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
    dirs.push(d);
    return d;
  };
  let template: Promise<string> | undefined;
  beforeAll(async () => {
    if (name === 'postgresql') pg = await startPostgres();
    else await (template = pgliteTemplate(tmp('sb-pglite-template-')));
  });
  afterAll(async () => {
    await pg?.stop();
    for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  });
  return {
    name,
    server: () => pg,
    async fresh() {
      const root = tmp('sb-vault-');
      const dataDir = path.join(root, 'data');
      if (name === 'pglite') {
        fs.mkdirSync(dataDir, { mode: 0o700 });
        fs.cpSync(await template!, pgliteDir(dataDir), { recursive: true });
        return { dataDir };
      }
      const database = `v${++n}_${process.pid}`;
      return { dataDir, database, databaseUrl: await pg!.createDatabase(database) };
    },
    databaseFiles(loc) {
      return name === 'pglite' ? [pgliteDir(loc.dataDir)] : [pg!.dataDir];
    },
    async flush(loc) {
      if (name === 'postgresql') await pg!.sql('CHECKPOINT', loc.database);
    },
  };
}

/** Every regular file under `dir`, recursively. */
export function filesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...filesUnder(p));
    else if (e.isFile()) out.push(p);
  }
  return out;
}

/** Does any file under these dirs contain `needle` (as UTF-8 bytes)? Returns the matching files. */
export function filesContaining(dirs: string[], needle: string): string[] {
  const bytes = Buffer.from(needle, 'utf8');
  return dirs.flatMap(filesUnder).filter((f) => fs.readFileSync(f).includes(bytes));
}

/** A credential kind for tests: `username` is public, `privateKey` and `passphrase` are secret. */
export const testSshKind: CredentialKind = {
  kind: 'test-ssh',
  description: 'test SSH key',
  parse(fields) {
    const { username, privateKey, passphrase, ...rest } = fields;
    const extra = Object.keys(rest);
    if (extra.length) throw new ValidationError(`fields.${extra[0]}`, 'is not a field of test-ssh credentials');
    if (typeof username !== 'string' || !username) throw new ValidationError('fields.username', 'is required');
    if (typeof privateKey !== 'string' || !privateKey) throw new ValidationError('fields.privateKey', 'is required');
    const secret: Record<string, string> = { privateKey };
    if (passphrase !== undefined) {
      if (typeof passphrase !== 'string') throw new ValidationError('fields.passphrase', 'must be a string');
      secret.passphrase = passphrase;
    }
    return { public: { username }, secret };
  },
};

const testTokenKind: CredentialKind = {
  kind: 'test-token',
  description: 'test token',
  parse(fields) {
    if (typeof fields.token !== 'string' || !fields.token) throw new ValidationError('fields.token', 'is required');
    return { public: {}, secret: { token: fields.token } };
  },
};

function testCredentialKinds(name: string): CredentialKind {
  if (name === testSshKind.kind) return testSshKind;
  if (name === testTokenKind.kind) return testTokenKind;
  throw new ValidationError('kind', `must be one of ${testSshKind.kind}, ${testTokenKind.kind}`);
}

/** A platform that needs a credential, standing in for HPC so these suites do not depend on the hpc platform. */
const testHpcSpec: PlatformSpec = {
  platform: 'hpc' as Platform,
  credentialKind: testSshKind.kind,
  parseConfig(config) {
    if (typeof config.host !== 'string' || !config.host) throw new ValidationError('config.host', 'is required');
    return { host: config.host };
  },
};

function testPlatformSpecs(platform: string): PlatformSpec {
  if (platform === 'hpc') return testHpcSpec;
  if (platform === 'local') return platformSpec('local');
  throw new ValidationError('platform', 'must be one of hpc, local');
}

/** Vault options for a location, with the test credential kinds and platforms. */
export function vaultOptions(loc: Location, extra: Partial<VaultOptions> = {}): VaultOptions {
  return {
    dataDir: loc.dataDir,
    databaseUrl: loc.databaseUrl,
    env: {},
    credentialKinds: testCredentialKinds,
    platformSpecs: testPlatformSpecs,
    ...extra,
  };
}

/** Opening with `opts` must be refused with a VaultKeyError; returns it for the caller's message checks. */
export async function openRefusal(opts: VaultOptions): Promise<VaultKeyError> {
  const err = await openVault(opts).then(
    async (v) => {
      await v.close();
      return undefined;
    },
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(VaultKeyError);
  return err as VaultKeyError;
}
