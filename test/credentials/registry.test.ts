/**
 * Container registry credentials: user name, password and registry server (host[:port], no scheme,
 * no path), checked on save. Table-driven refusals, each with its reason, naming the field and the
 * rule and never the password; each refusal also tried through the real vault, which then holds nothing.
 */
import { leaks, useCredentialVault } from '../harness/credential-vault';
import { randomBytes } from 'node:crypto';
import { credentialKind } from '../../credentials';
import { containerRegistryCredential, parseContainerRegistry, parseRegistryServer } from '../../credentials/registry';
import { ValidationError } from '../../domain/errors';

jest.setTimeout(60_000);

/** An ACR token password is 52 characters of base64-like text; this one is random. */
const PASSWORD = `${randomBytes(39).toString('base64')}`;

const registry = (over: Record<string, unknown> = {}) => ({
  userName: 'seqera-wave-token',
  password: PASSWORD,
  registryServer: 'myregistry.azurecr.io',
  ...over,
});


type Refusal = { reason: string; fields: Record<string, unknown>; field: string; rule: RegExp };

const refusals: Refusal[] = [
  { reason: 'an https:// URL', fields: registry({ registryServer: 'https://myregistry.azurecr.io' }), field: 'registryServer', rule: /must not have a scheme: drop "https:\/\/" and give the host name alone, e\.g\. myregistry\.azurecr\.io/ },
  { reason: 'an http:// URL with a port', fields: registry({ registryServer: 'HTTP://127.0.0.1:5000' }), field: 'registryServer', rule: /drop "http:\/\/"/ },
  { reason: 'the registry API path', fields: registry({ registryServer: 'myregistry.azurecr.io/v2/' }), field: 'registryServer', rule: /must not have a path/ },
  { reason: 'an image reference', fields: registry({ registryServer: 'myregistry.azurecr.io/team/app:1.0' }), field: 'registryServer', rule: /must not have a path/ },
  { reason: 'a user name in the server', fields: registry({ registryServer: 'token@myregistry.azurecr.io' }), field: 'registryServer', rule: /must not carry a user name/ },
  { reason: 'port 0', fields: registry({ registryServer: 'localhost:0' }), field: 'registryServer', rule: /port that is not a number from 1 to 65535/ },
  { reason: 'port 70000', fields: registry({ registryServer: 'localhost:70000' }), field: 'registryServer', rule: /1 to 65535/ },
  { reason: 'a port that is not a number', fields: registry({ registryServer: 'localhost:https' }), field: 'registryServer', rule: /1 to 65535/ },
  { reason: 'a port without a host', fields: registry({ registryServer: ':5000' }), field: 'registryServer', rule: /host name with an optional :port/ },
  { reason: 'an underscore in the host name', fields: registry({ registryServer: 'my_registry.azurecr.io' }), field: 'registryServer', rule: /must be a host name \(letters, digits and hyphens/ },
  { reason: 'a label starting with a hyphen', fields: registry({ registryServer: '-registry.example.org' }), field: 'registryServer', rule: /must be a host name/ },
  { reason: 'an empty label', fields: registry({ registryServer: 'registry..example.org' }), field: 'registryServer', rule: /must be a host name/ },
  { reason: 'an IPv4 address out of range', fields: registry({ registryServer: '300.1.1.1:5000' }), field: 'registryServer', rule: /or an IPv4 address/ },
  { reason: 'a space inside the server', fields: registry({ registryServer: 'my registry.azurecr.io' }), field: 'registryServer', rule: /without spaces/ },
  { reason: 'no registry server', fields: registry({ registryServer: undefined }), field: 'registryServer', rule: /is required: the registry's login server/ },
  { reason: 'no user name', fields: registry({ userName: '' }), field: 'userName', rule: /is required: the registry token name/ },
  { reason: 'a colon in the user name', fields: registry({ userName: 'token:seqera' }), field: 'userName', rule: /must not contain ":"/ },
  { reason: 'a space in the user name', fields: registry({ userName: 'seqera token' }), field: 'userName', rule: /spaces or control characters/ },
  { reason: 'a user name too long', fields: registry({ userName: 'u'.repeat(257) }), field: 'userName', rule: /longer than 256/ },
  { reason: 'no password', fields: registry({ password: '  \n' }), field: 'password', rule: /is required: the registry token password/ },
  { reason: 'a password over two lines', fields: registry({ password: `${PASSWORD.slice(0, 26)}\n${PASSWORD.slice(26)}` }), field: 'password', rule: /one line without control characters/ },
  { reason: 'a password too long', fields: registry({ password: randomBytes(3_100).toString('base64') }), field: 'password', rule: /longer than 4096/ },
  { reason: 'a password that is not text', fields: registry({ password: 12345678 }), field: 'password', rule: /must be a string/ },
  { reason: 'a field registry credentials do not have', fields: registry({ email: 'ops@example.org' }), field: 'email', rule: /not a field of container-registry credentials \(allowed: userName, password, registryServer, tokenPasswordSlot\)/ },
  { reason: 'a token password slot ACR does not have', fields: registry({ tokenPasswordSlot: 'password3' }), field: 'tokenPasswordSlot', rule: /must be password1 or password2: which of the Azure Container Registry token's passwords the stored password is/ },
  { reason: 'a token password slot that is not text', fields: registry({ tokenPasswordSlot: 1 }), field: 'tokenPasswordSlot', rule: /must be a string/ },
];

describe('container-registry credential kind', () => {
  test('is registered', () => {
    expect(credentialKind('container-registry')).toBe(containerRegistryCredential);
  });

  test('user name and server public, password sealed', () => {
    expect(containerRegistryCredential.parse(registry())).toEqual({
      public: { userName: 'seqera-wave-token', registryServer: 'myregistry.azurecr.io' },
      secret: { password: PASSWORD },
    });
    // A password pasted with a trailing newline is stored without it.
    const pasted = containerRegistryCredential.parse(registry({ password: `${PASSWORD}\n` })) as { secret: Record<string, string> };
    expect(pasted.secret.password === PASSWORD).toBe(true);
  });

  test.each([
    { reason: 'absent', given: undefined, stored: undefined },
    { reason: 'empty (the same as absent)', given: '', stored: undefined },
    { reason: 'password1', given: 'password1', stored: 'password1' },
    { reason: 'password2 as the portal capitalizes it, with spaces', given: ' Password2 ', stored: 'password2' },
  ])('tokenPasswordSlot $reason: public, never secret', ({ given, stored }) => {
    const parsed = containerRegistryCredential.parse(registry({ tokenPasswordSlot: given })) as { public: Record<string, unknown>; secret: Record<string, string> };
    expect(parsed.public).toEqual({ userName: 'seqera-wave-token', registryServer: 'myregistry.azurecr.io', ...(stored ? { tokenPasswordSlot: stored } : {}) });
    expect(Object.keys(parsed.secret)).toEqual(['password']);
  });

  test.each([
    { server: 'myregistry.azurecr.io', stored: 'myregistry.azurecr.io' },
    { server: '127.0.0.1:5000', stored: '127.0.0.1:5000' },
    { server: 'localhost:5000', stored: 'localhost:5000' },
    { server: 'registry-1.docker.io', stored: 'registry-1.docker.io' },
    { server: 'MyRegistry.AzureCR.io', stored: 'myregistry.azurecr.io' },
    { server: 'ghcr.io.', stored: 'ghcr.io' },
    { server: 'registry.example.org:05000', stored: 'registry.example.org:5000' },
  ])('accepts the server $server, stored as $stored', ({ server, stored }) => {
    expect(parseRegistryServer(server)).toBe(stored);
  });

  test('the leak check finds the password, whole or in part, in an error', () => {
    const fields = registry();
    expect(leaks(new ValidationError('password', `bad: ${PASSWORD}`), [fields.password])).toBe(true);
    expect(leaks(new ValidationError('password', `starts ${PASSWORD.slice(5, 20)}`), [fields.password])).toBe(true);
    expect(leaks(new ValidationError('password', 'is longer than 4096 characters'), [fields.password])).toBe(false);
  });

  test.each(refusals)('refuses $reason, naming $field and not the password', (r) => {
    let err: unknown;
    try {
      parseContainerRegistry(r.fields);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ValidationError);
    expect(err).toMatchObject({ name: 'ValidationError', field: r.field });
    expect((err as ValidationError).rule).toMatch(r.rule);
    expect(leaks(err, [r.fields.password])).toBe(false);
  });
});

describe('in the vault', () => {
  const ctx = useCredentialVault('wave-ws');

  test.each(refusals)('stores nothing when refusing $reason', async (r) => {
    const err = await ctx.vault.createCredential({ workspaceId: ctx.workspaceId, name: 'my-registry-creds', kind: 'container-registry', fields: r.fields }).catch((e: unknown) => e);
    expect(err).toMatchObject({ name: 'ValidationError', field: r.field, rule: expect.stringMatching(r.rule) });
    expect(leaks(err, [r.fields.password])).toBe(false);
    expect(await ctx.vault.listCredentials(ctx.workspaceId)).toEqual([]);
  });

  test('stores a good credential: listings show user name and server only, providers read the password back', async () => {
    const meta = await ctx.vault.createCredential({ workspaceId: ctx.workspaceId, name: 'my-registry-creds', kind: 'container-registry', fields: registry({ registryServer: '127.0.0.1:5000' }) });
    expect(meta.public).toEqual({ userName: 'seqera-wave-token', registryServer: '127.0.0.1:5000' });
    const listed = JSON.stringify(await ctx.vault.listCredentials(ctx.workspaceId));
    expect(listed).toContain('my-registry-creds');
    expect(leaks(listed, [registry().password])).toBe(false);
    const read = await ctx.vault.readCredential(meta.id);
    expect([read.kind, read.public]).toEqual(['container-registry', meta.public]);
    expect(read.secret.password === PASSWORD).toBe(true);
    await ctx.vault.deleteCredential(meta.id);
  });
});
