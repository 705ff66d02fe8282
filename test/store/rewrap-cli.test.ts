/** `secret-broker vault rewrap` on a real embedded vault: the command, not just the function. */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { openVault } from '../../store/vault';
import { runCliCaptured } from '../harness/cli';

const cli = (args: string[], env: Record<string, string>) => runCliCaptured(args, env);

test('vault rewrap moves every record to a new key file; the value survives and the old key is retired', async () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-rewrap-cli-'));
  const value = `rewrap-value-${randomBytes(6).toString('hex')}`;
  try {
    let vault = await openVault({ dataDir });
    const ws = await vault.createWorkspace('rw');
    await vault.setSecret({ scope: 'workspace', ownerId: ws.id, name: 'KEEP_ME', value });
    await vault.close();
    const oldKey = fs.readFileSync(path.join(dataDir, 'master.key'), 'utf8');

    const r = await cli(['vault', 'rewrap', '--data-dir', dataDir], {});
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/re-wrapped \d+ data keys/);
    expect(r.stdout + r.stderr).not.toContain(value);
    const newKey = fs.readFileSync(path.join(dataDir, 'master.key'), 'utf8');
    expect(newKey).not.toBe(oldKey);
    expect(fs.statSync(path.join(dataDir, 'master.key')).mode & 0o777).toBe(0o600);
    expect(fs.readdirSync(dataDir).some((f) => f.startsWith('master.key.retired-'))).toBe(true);

    vault = await openVault({ dataDir });
    const { found } = await vault.resolveSecrets({ workspaceId: ws.id, userId: (await vault.createUser('u1')).id, names: ['KEEP_ME'] });
    expect(await vault.readSecretValue(found[0])).toBe(value);
    await vault.close();
    // The old key alone no longer opens the vault.
    await expect(openVault({ dataDir, masterKey: Buffer.from(oldKey.trim(), 'base64') })).rejects.toThrow(/VaultKeyError|key/);
  } finally {
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
});
