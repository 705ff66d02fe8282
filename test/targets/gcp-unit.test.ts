/**
 * What the emulator cannot show: etags (it keeps none), error sanitizing, the project IAM wire
 * format. Hand-written fakes of the narrow client type, one function per SDK call, that assert
 * their inputs.
 */
import { decodePolicy, decodeTestResponse, encodeGetPolicyRequest, encodeTestRequest, type ProjectIam } from '../../targets/gcp/project-iam';
import { parseGcpConfig } from '../../platforms/gcp';
import { sanitizeGcpError, Status, type CallContext } from '../../targets/gcp/errors';
import { GcpSecretTarget, LABEL, labelValue, type SecretManagerLike } from '../../targets/gcp/target';
import type { RunContext } from '../../targets/types';

const PROJECT = 'sb-unit-project';
const run: RunContext = {
  runId: 'RunEtag1',
  workspaceId: 'ws-1',
  computeEnv: { id: 'ce-1', workspaceId: 'ws-1', name: 'g', platform: 'gcp', config: { location: 'us-east1' }, credentialId: 'c' },
};
const ours = { [LABEL.managed]: 'true', [LABEL.runId]: labelValue(run.runId), [LABEL.workspace]: 'ws-1' };

function grpcError(code: number, extra: Record<string, unknown> = {}): Error {
  return Object.assign(new Error(`${code} SOMETHING: details with payload s3cr3t-value and token ya29.a0AfH6SMBx`), {
    code,
    details: 'payload s3cr3t-value',
    metadata: { 'x-goog-auth': 'Bearer ya29.a0AfH6SMBx' },
    ...extra,
  });
}

// Loosely typed on purpose: each fake returns just the fields the target reads.
type FakeCall = (...args: never[]) => unknown;
function fakeClient(calls: Partial<Record<keyof SecretManagerLike, FakeCall>>): SecretManagerLike {
  const fail = (name: string) => () => {
    throw new Error(`unexpected call ${name}`);
  };
  return {
    createSecret: calls.createSecret ?? fail('createSecret'),
    getSecret: calls.getSecret ?? fail('getSecret'),
    addSecretVersion: calls.addSecretVersion ?? fail('addSecretVersion'),
    listSecretVersions: calls.listSecretVersions ?? fail('listSecretVersions'),
    listSecrets: calls.listSecrets ?? fail('listSecrets'),
    deleteSecret: calls.deleteSecret ?? fail('deleteSecret'),
    close: async () => undefined,
  } as unknown as SecretManagerLike;
}

function target(client: SecretManagerLike, projectIam?: ProjectIam, batchServiceAccount?: string) {
  return new GcpSecretTarget({
    computeEnvId: 'ce-1',
    project: PROJECT,
    config: parseGcpConfig({ location: 'us-east1', ...(batchServiceAccount ? { batchServiceAccount } : {}) }),
    clientEmail: `broker@${PROJECT}.iam.gserviceaccount.com`,
    client,
    projectIam,
  });
}

const name = `projects/${PROJECT}/secrets/tower-RunEtag1-A`;
const ref = { platform: 'gcp' as const, computeEnvId: 'ce-1', secretName: 'A', remoteId: name };

describe('delete with the etag', () => {
  test('deletes with the etag of the secret it read and checked', async () => {
    const deletes: unknown[] = [];
    const t = target(
      fakeClient({
        getSecret: async (req: { name: string }) => [{ name: req.name, labels: ours, etag: '"etag-1"' }],
        deleteSecret: async (req: unknown) => {
          deletes.push(req);
          return [{}];
        },
      }),
    );
    expect(await t.delete(run, [ref])).toEqual(['deleted']);
    expect(deletes).toEqual([{ name, etag: '"etag-1"' }]);
  });

  test('an etag mismatch re-reads the secret; relabelled in between, it is no longer the broker’s', async () => {
    const reads = [
      [{ name, labels: ours, etag: '"etag-1"' }],
      [{ name, labels: { team: 'someone-else' }, etag: '"etag-2"' }],
    ];
    const deletes: unknown[] = [];
    const t = target(
      fakeClient({
        getSecret: async () => reads.shift(),
        deleteSecret: async (req: unknown) => {
          deletes.push(req);
          throw grpcError(Status.ABORTED);
        },
      }),
    );
    expect(await t.delete(run, [ref])).toEqual(['not-owned']);
    expect(deletes).toEqual([{ name, etag: '"etag-1"' }]);
  });

  test('NOT_FOUND on read or on delete counts as done', async () => {
    const gone = target(fakeClient({ getSecret: async () => Promise.reject(grpcError(Status.NOT_FOUND)) }));
    expect(await gone.delete(run, [ref])).toEqual(['not-found']);
    const raced = target(
      fakeClient({ getSecret: async () => [{ name, labels: ours, etag: 'e' }], deleteSecret: async () => Promise.reject(grpcError(Status.NOT_FOUND)) }),
    );
    expect(await raced.delete(run, [ref])).toEqual(['not-found']);
  });

  test('a secret labelled for this run but annotated with another exact run id is not deleted', async () => {
    const t = target(fakeClient({ getSecret: async () => [{ name, labels: ours, annotations: { 'secret-broker-run-id': 'runetag1' }, etag: 'e' }] }));
    expect(await t.delete(run, [ref])).toEqual(['not-owned']);
  });
});

describe('errors are sanitized', () => {
  const ctx: CallContext = { op: 'create secret', resource: name, permission: 'secretmanager.secrets.create', principal: 'serviceAccount:b@x', project: PROJECT };
  test.each([
    { reason: 'permission denied', code: Status.PERMISSION_DENIED, type: 'PermissionDeniedError' },
    { reason: 'bad key', code: Status.UNAUTHENTICATED, type: 'AuthenticationFailedError' },
    { reason: 'throttled', code: Status.RESOURCE_EXHAUSTED, type: 'ThrottledError' },
    { reason: 'unavailable', code: Status.UNAVAILABLE, type: 'ConnectionError' },
    { reason: 'deadline', code: Status.DEADLINE_EXCEEDED, type: 'ConnectionError' },
    { reason: 'invalid', code: Status.INVALID_ARGUMENT, type: 'InvalidInputError' },
    { reason: 'internal', code: Status.INTERNAL, type: 'GcpSecretManagerError' },
  ])('$reason becomes $type without payloads, tokens or metadata', ({ code, type }) => {
    const e = sanitizeGcpError(grpcError(code), ctx);
    expect(e.name).toBe(type);
    const all = JSON.stringify({ ...e, message: e.message, stack: e.stack });
    expect(all).not.toMatch(/s3cr3t|ya29|Bearer|x-goog/);
    expect(e.message).toContain(name);
  });

  test('auth-library errors without a gRPC status keep nothing of their text', () => {
    const e = sanitizeGcpError(Object.assign(new Error('invalid_grant: {"access_token":"ya29.secret"}'), { response: { status: 400, data: 'ya29.secret' } }), ctx);
    expect(e.name).toBe('AuthenticationFailedError');
    expect(JSON.stringify({ m: e.message, ...e })).not.toContain('ya29');
  });

  test('a push that fails mid-way carries no value in its error', async () => {
    const t = target(fakeClient({ createSecret: async () => [{}], addSecretVersion: async () => Promise.reject(grpcError(Status.INTERNAL)) }));
    const err = (await t.push(run, [{ name: 'A', value: 'the-value-9' }]).catch((e: Error) => e)) as Error;
    expect(err.name).toBe('GcpSecretManagerError');
    expect(`${err.message}${err.stack}`).not.toContain('the-value-9');
  });
});

describe('project-level permission checks', () => {
  test('missing permissions fail the push before any Secret Manager call, naming each and the role', async () => {
    const asked: string[][] = [];
    const iam: ProjectIam = {
      testPermissions: async (project, perms) => {
        expect(project).toBe(PROJECT);
        asked.push(perms);
        return perms.filter((p) => p !== 'secretmanager.secrets.create');
      },
      getPolicy: async () => [],
      close: () => undefined,
    };
    const t = target(fakeClient({}), iam);
    await expect(t.push(run, [{ name: 'A', value: 'v' }])).rejects.toMatchObject({
      name: 'PermissionDeniedError',
      permission: 'secretmanager.secrets.create',
      role: 'roles/secretmanager.admin',
    });
    expect(asked[0]).toContain('secretmanager.secrets.delete');
  });

  test('where the IAM service is absent or refuses the caller, the check is skipped (push-time denial still applies)', async () => {
    for (const code of [Status.UNIMPLEMENTED, Status.PERMISSION_DENIED]) {
      const iam: ProjectIam = { testPermissions: async () => Promise.reject(grpcError(code)), getPolicy: async () => [], close: () => undefined };
      const created: unknown[] = [];
      const t = target(fakeClient({ createSecret: async (r: unknown) => (created.push(r), [{}]), addSecretVersion: async () => [{}] }), iam);
      await t.push(run, [{ name: 'A', value: 'v' }]);
      expect(created).toHaveLength(1);
    }
  });

  test('an unreachable IAM service is a retryable connection error', async () => {
    const iam: ProjectIam = { testPermissions: async () => Promise.reject(grpcError(Status.UNAVAILABLE)), getPolicy: async () => [], close: () => undefined };
    await expect(target(fakeClient({}), iam).push(run, [{ name: 'A', value: 'v' }])).rejects.toMatchObject({ name: 'ConnectionError' });
  });

  test('verify accepts the Batch account through a conditional or admin binding, and names it when absent', async () => {
    const sa = 'batch@p.iam.gserviceaccount.com';
    const mk = (bindings: Awaited<ReturnType<ProjectIam['getPolicy']>>) => ({
      testPermissions: async (_p: string, perms: string[]) => perms,
      getPolicy: async () => bindings,
      close: () => undefined,
    });
    const client = fakeClient({ getSecret: async () => [{ name, labels: ours }] });
    expect(await target(client, mk([{ role: 'roles/secretmanager.admin', members: [`serviceAccount:${sa}`], conditional: false }]), sa).verify(run, [ref])).toEqual({ ok: true });
    expect(await target(client, mk([{ role: 'roles/secretmanager.secretAccessor', members: [`serviceAccount:${sa}`], conditional: true }]), sa).verify(run, [ref])).toEqual({ ok: true });
    const v = await target(client, mk([{ role: 'roles/viewer', members: [`serviceAccount:${sa}`], conditional: false }]), sa).verify(run, [ref]);
    expect(v).toEqual({ ok: false, missing: [expect.objectContaining({ permission: 'secretmanager.versions.access', principal: `Batch service account ${sa}` })] });
  });
});

describe('google.iam.v1 wire format', () => {
  test('requests encode as protobuf and responses decode', () => {
    // field 1 "projects/p", field 2 "a.b"
    expect(encodeTestRequest('projects/p', ['a.b']).toString('hex')).toBe('0a0a70726f6a656374732f70' + '1203612e62');
    expect(decodeTestResponse(Buffer.from('0a03612e62' + '0a03632e64', 'hex'))).toEqual(['a.b', 'c.d']);
    expect(encodeGetPolicyRequest('projects/p').subarray(-4).toString('hex')).toBe('12020803');
    // Policy { version: 1, bindings: [{ role: "r", members: ["m1", "m2"], condition: {} }], etag: "e" }
    const binding = Buffer.from('0a0172' + '12026d31' + '12026d32' + '1a00', 'hex');
    const policy = Buffer.concat([Buffer.from('0801', 'hex'), Buffer.from('1a0165', 'hex'), Buffer.from([0x22, binding.length]), binding]);
    expect(decodePolicy(policy)).toEqual([{ role: 'r', members: ['m1', 'm2'], conditional: true }]);
  });
});
