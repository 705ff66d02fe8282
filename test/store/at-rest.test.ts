/**
 * What reaches the disk: after writing distinctive values, every byte of the database's files is
 * searched. The values must be absent; the names (stored in clear) must be present, which proves the
 * search reads the files the data went to.
 */
import * as crypto from 'node:crypto';
import { openVault } from '../../store/vault';
import { BACKENDS, filesContaining, filesUnder, useBackend, vaultOptions } from './backends';

describe.each(BACKENDS)('data at rest on %s', (name) => {
  const backend = useBackend(name);

  test('database files hold names but no secret value or credential secret in clear', async () => {
    const loc = await backend.fresh();
    const tag = crypto.randomBytes(6).toString('hex');
    const secretName = `ATREST_NAME_${tag}`;
    const value = `PlainValue-${tag}-never-on-disk`;
    const replaced = `OldPlainValue-${tag}-replaced`;
    const credentialName = `atrest-cred-${tag}`;
    const privateKey = `PrivateKey-${tag}-never-on-disk`;

    const v = await openVault(vaultOptions(loc));
    const ws = await v.createWorkspace(`ws-${tag}`);
    const user = await v.createUser(`user-${tag}`);
    await v.setSecret({ scope: 'workspace', ownerId: ws.id, name: secretName, value: replaced });
    await v.setSecret({ scope: 'workspace', ownerId: ws.id, name: secretName, value });
    await v.setSecret({ scope: 'user', ownerId: user.id, name: secretName, value });
    await v.createCredential({ workspaceId: ws.id, name: credentialName, kind: 'test-ssh', fields: { username: 'nf', privateKey } });
    const [ref] = (await v.resolveSecrets({ workspaceId: ws.id, userId: user.id, names: [secretName] })).found;
    expect(await v.readSecretValue(ref!)).toBe(value);
    await v.close();
    await backend.flush(loc);

    const dirs = backend.databaseFiles(loc);
    expect(dirs.flatMap(filesUnder).length).toBeGreaterThan(10);
    // Control: names are stored in clear, so the search must find them.
    expect(filesContaining(dirs, secretName).length).toBeGreaterThan(0);
    expect(filesContaining(dirs, credentialName).length).toBeGreaterThan(0);
    // The point: no value, old or new, and no credential secret anywhere in the database files.
    expect(filesContaining(dirs, value)).toEqual([]);
    expect(filesContaining(dirs, replaced)).toEqual([]);
    expect(filesContaining(dirs, privateKey)).toEqual([]);
    // Nor in what the server logged.
    const out = backend.server()?.output() ?? '';
    expect(out).not.toContain(value);
    expect(out).not.toContain(privateKey);
  });
});
