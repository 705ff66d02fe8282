/**
 * For credential-kind suites: a real vault on a temporary PGlite directory with one workspace, emptied
 * after each test (so a refusal that wrongly stored something fails only its own test), and a check
 * that an error carries none of a set of secret values.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { openVault } from '../../store/vault';
import type { VaultApi } from '../../store/types';

export interface CredentialVault {
  vault: VaultApi;
  workspaceId: string;
}

/** Register the hooks of the enclosing describe; the fields are set once beforeAll has run. */
export function useCredentialVault(workspaceName: string): CredentialVault {
  const ctx = {} as CredentialVault;
  let dir = '';
  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), `sb-cred-${workspaceName}-`));
    ctx.vault = await openVault({ dataDir: dir, masterKey: randomBytes(32) });
    ctx.workspaceId = (await ctx.vault.createWorkspace(workspaceName)).id;
  });
  afterEach(async () => {
    for (const ce of await ctx.vault.listComputeEnvs(ctx.workspaceId)) await ctx.vault.deleteComputeEnv(ce.id);
    for (const c of await ctx.vault.listCredentials(ctx.workspaceId)) await ctx.vault.deleteCredential(c.id);
  });
  afterAll(async () => {
    await ctx.vault?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });
  return ctx;
}

/**
 * Whether an error (its message and own properties) or a text carries any of the values: whole, or
 * any 12-character stretch of one. Values shorter than 4 characters are not searched.
 */
export function leaks(err: unknown, values: unknown[]): boolean {
  const text = typeof err === 'string' ? err : JSON.stringify({ message: (err as Error)?.message, ...(err as object) });
  return values.some((v) => {
    if (typeof v !== 'string' || v.trim().length < 4) return false;
    const s = v.trim();
    if (text.includes(s)) return true;
    for (let i = 0; i + 12 <= s.length; i++) if (text.includes(s.slice(i, i + 12))) return true;
    return false;
  });
}
