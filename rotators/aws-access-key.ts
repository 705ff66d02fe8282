/**
 * AWS IAM access keys, rotated by the same two-slot procedure. An IAM user has at most two access keys; the slots are their ids,
 * so they are not fixed: `regenerate` deletes the spare and creates a new key, whose id is the new
 * slot. The rotated credential is an `aws` credential holding a long-term (AKIA...) key of an IAM
 * user, and it manages its own user's keys with that key: STS GetCallerIdentity names the user, then
 * IAM ListAccessKeys, CreateAccessKey, UpdateAccessKey and DeleteAccessKey on that user (the user
 * needs a policy allowing them on `arn:aws:iam::*:user/${aws:username}`).
 *
 * Refused: credentials with a roleArn (the broker acts as the assumed role, whose credentials are
 * temporary) and temporary credentials (ASIA... with a sessionToken): neither has an access key the
 * broker may rotate.
 *
 * The account (workflow id) is the credential: `aws-access-key:<credentialId>`. The key id changes
 * with every rotation and the user's ARN needs a network call, which `describe` does not make (it
 * gets no endpoint settings, and it should answer without reaching AWS). So one IAM user stored in
 * two vault credentials can be rotated by two workflows at once; the in-use guards still keep each
 * from deleting a key the other stores (see `regenerate` for the one narrow race left).
 *
 * A secret access key is shown once, when the key is created: `regenerate` stores it in the vault
 * at once (the access key id, a public field, changes with it, through replaceCredentialSecret's
 * `publicFields`), and `store` cannot fetch a key's secret later. A crash between CreateAccessKey
 * and that store leaves a key no vault credential uses; the next `regenerate` deletes every such key
 * before it creates one, so the two-key limit is never hit and the stored key is never touched.
 */
import { IAM, type AccessKeyMetadata } from '@aws-sdk/client-iam';
import { STS } from '@aws-sdk/client-sts';
import { ValidationError, AuthenticationFailedError, ConnectionError, InvalidInputError, RotationRefusedError } from '../domain/errors';
import type { VaultApi } from '../store/types';
import type { RotationSnapshot, RotationTarget } from '../domain/rotation';
import { verifyAwsCredential } from '../remote/aws/identity';
import { isAwsCode, sanitizeAwsError } from '../remote/aws/errors';
import { refuseIfInUse, type SlotUse } from './common';
import { checkRotatable, labelOf } from './kinds';
import type { RotatorDeps, TwoSlotRotator } from './types';

/** How long a freshly stored key's refusal counts as IAM propagation (AWS: usually seconds). */
export const NEW_KEY_PROPAGATION_MS = 2 * 60_000;

const CREDENTIAL_KIND = 'aws';
const DEFAULT_REGION = 'us-east-1';
/** Throttling retries inside the SDK for the reads and deletes (all idempotent). */
const MAX_ATTEMPTS = 5;
/**
 * How recent the stored key must be for a `regenerate` that finds its work done (a retry after a
 * lost answer) to return it instead of rotating again. Activity retries come within minutes.
 */
export const ALREADY_REGENERATED_WINDOW_MS = 60 * 60_000;

const IAM_USER_ARN_RE = /^arn:[\w-]+:iam::(\d{12}):user\/(?:[\w+=,.@-]+\/)*([\w+=,.@-]{1,64})$/;
const ROOT_ARN_RE = /^arn:[\w-]+:iam::\d{12}:root$/;

/** The rotated key, from the vault. */
interface OwnKey {
  accessKeyId: string;
  secretAccessKey: string;
}

async function ownKey(vault: VaultApi, credentialId: string): Promise<OwnKey> {
  const c = await vault.readCredential(credentialId);
  checkRotatable(c.public, c.secret);
  const secretAccessKey = c.secret.secretAccessKey;
  if (typeof secretAccessKey !== 'string' || secretAccessKey === '') throw new ValidationError('secretAccessKey', 'is required for aws-access-key rotation');
  return { accessKeyId: c.public.accessKeyId as string, secretAccessKey };
}

/** Which of `keyIds` vault `aws` credentials use: the rotated one's own key, and the others'. */
async function keyUse(vault: VaultApi, credentialId: string, own: string, keyIds: readonly string[]): Promise<SlotUse> {
  const usedElsewhere = new Set<string>();
  for (const meta of await vault.listCredentialsOfKind(CREDENTIAL_KIND)) {
    const id = meta.public.accessKeyId;
    if (meta.id !== credentialId && typeof id === 'string' && keyIds.includes(id)) usedElsewhere.add(id);
  }
  return { stored: keyIds.includes(own) ? own : null, usedElsewhere: [...usedElsewhere].sort() };
}

function createdAt(k: AccessKeyMetadata): number {
  return k.CreateDate ? new Date(k.CreateDate).getTime() : 0;
}

/** IAM and STS signed with one key, and the calls the rotator makes, sanitized. */
class KeySession {
  private readonly iam: IAM;
  /** CreateAccessKey is not idempotent: no SDK retry, so a lost answer cannot make two keys. */
  private readonly iamOnce: IAM;
  private readonly sts: STS;
  private user?: { name: string; arn: string };

  constructor(
    readonly key: OwnKey,
    deps: RotatorDeps,
    private readonly label: string,
    /** `aws credential "name" (id)`, for messages once the user is known. */
    private readonly of: string,
    private readonly sensitive: string[] = [key.secretAccessKey],
  ) {
    const cfg = {
      region: deps.aws?.region ?? DEFAULT_REGION,
      credentials: { accessKeyId: key.accessKeyId, secretAccessKey: key.secretAccessKey },
      ...(deps.aws?.endpoint ? { endpoint: deps.aws.endpoint } : {}),
    };
    this.iam = new IAM({ ...cfg, maxAttempts: MAX_ATTEMPTS });
    this.iamOnce = new IAM({ ...cfg, maxAttempts: 1 });
    this.sts = new STS({ ...cfg, maxAttempts: MAX_ATTEMPTS });
  }

  private async call<T>(service: string, operation: string, fn: () => Promise<T>, target?: string): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw sanitizeAwsError(err, { service, operation, sensitive: this.sensitive, ...(target ? { target } : {}) });
    }
  }

  /** The IAM user the key belongs to (STS GetCallerIdentity needs no permission). */
  async userName(): Promise<string> {
    if (!this.user) {
      const who = await this.call('sts', 'GetCallerIdentity', () => this.sts.getCallerIdentity({}));
      const arn = who.Arn ?? '';
      const m = IAM_USER_ARN_RE.exec(arn);
      if (!m) {
        if (ROOT_ARN_RE.test(arn)) {
          throw new InvalidInputError(`${this.label}: the stored key belongs to the account's root user; root access keys are not rotated by the broker (use an IAM user)`);
        }
        throw new InvalidInputError(`${this.label}: the stored key does not sign in as an IAM user (STS names ${arn || 'no identity'}); only IAM users have access keys to rotate`);
      }
      this.user = { name: m[2]!, arn };
    }
    return this.user.name;
  }

  async where(): Promise<string> {
    return `IAM user ${await this.userName()} of ${this.of}`;
  }

  /** The user's keys, oldest first. */
  async listKeys(): Promise<AccessKeyMetadata[]> {
    const UserName = await this.userName();
    const keys: AccessKeyMetadata[] = [];
    let Marker: string | undefined;
    do {
      const page = await this.call('iam', 'ListAccessKeys', () => this.iam.listAccessKeys({ UserName, ...(Marker ? { Marker } : {}) }), UserName);
      keys.push(...(page.AccessKeyMetadata ?? []).filter((k) => typeof k.AccessKeyId === 'string'));
      Marker = page.IsTruncated ? page.Marker : undefined;
    } while (Marker);
    return keys.sort((a, b) => createdAt(a) - createdAt(b) || a.AccessKeyId!.localeCompare(b.AccessKeyId!));
  }

  async createKey(): Promise<OwnKey> {
    const UserName = await this.userName();
    const out = await this.call('iam', 'CreateAccessKey', () => this.iamOnce.createAccessKey({ UserName }), UserName);
    const k = out.AccessKey;
    if (!k?.AccessKeyId || !k.SecretAccessKey) throw new InvalidInputError(`${await this.where()}: CreateAccessKey returned no key`);
    this.sensitive.push(k.SecretAccessKey);
    return { accessKeyId: k.AccessKeyId, secretAccessKey: k.SecretAccessKey };
  }

  /** Deactivates, then deletes; a key already gone is done. */
  async deleteKey(keyId: string, deactivateFirst: boolean): Promise<void> {
    const UserName = await this.userName();
    const gone = (err: unknown) => isAwsCode(err, 'NoSuchEntity', 'NoSuchEntityException');
    try {
      if (deactivateFirst) await this.iam.updateAccessKey({ UserName, AccessKeyId: keyId, Status: 'Inactive' });
      await this.iam.deleteAccessKey({ UserName, AccessKeyId: keyId });
    } catch (err) {
      if (gone(err)) return;
      throw sanitizeAwsError(err, { service: 'iam', operation: deactivateFirst ? 'UpdateAccessKey+DeleteAccessKey' : 'DeleteAccessKey', target: `${keyId} of ${UserName}`, sensitive: this.sensitive });
    }
  }

  destroy(): void {
    this.iam.destroy();
    this.iamOnce.destroy();
    this.sts.destroy();
  }
}

export async function create(target: RotationTarget, deps: RotatorDeps): Promise<TwoSlotRotator> {
  const { id: credentialId, label, of } = await labelOf(target, deps.vault);
  const { vault } = deps;
  // Fail now, not at the first call, when the secret part makes the credential unrotatable.
  await ownKey(vault, credentialId);

  /** A session signed with the key the vault holds now (it changes when regenerate stores a new one). */
  const withSession = async <T>(fn: (s: KeySession) => Promise<T>): Promise<T> => {
    const s = new KeySession(await ownKey(vault, credentialId), deps, label, of);
    try {
      return await fn(s);
    } catch (err) {
      // A key stored moments ago (a retried step after a lost answer signs with it) can be refused
      // while IAM still propagates it: that is worth a retry, not the end of the rotation.
      if (err instanceof AuthenticationFailedError) {
        const meta = await vault.getCredential(credentialId);
        const replaced = Date.parse(meta.updatedAt) > Date.parse(meta.createdAt);
        if (replaced && Date.now() - Date.parse(meta.updatedAt) < NEW_KEY_PROPAGATION_MS) {
          throw new ConnectionError(`${err.message} (the key was stored moments ago and may still be propagating in IAM)`);
        }
      }
      throw err;
    } finally {
      s.destroy();
    }
  };

  return {
    label,

    inspect: () =>
      withSession(async (s): Promise<RotationSnapshot> => {
        const ids = (await s.listKeys()).map((k) => k.AccessKeyId!);
        const u = await keyUse(vault, credentialId, s.key.accessKeyId, ids);
        return { rotatable: true, slots: ids, stored: u.stored, usedElsewhere: u.usedElsewhere, fixedSlots: false };
      }),

    /**
     * Deletes `spare` (refused if a vault credential uses it) and every other key no vault
     * credential uses (one a crash left between CreateAccessKey and storing), creates a key,
     * stores it in the credential at once (compare-and-swap on the old key) and returns its id.
     * A retry after a lost answer finds the stored key newer than an unused older one, and `spare`
     * gone or null: it returns the stored key instead of rotating again (which would delete the
     * old key before its grace period is over).
     *
     * Narrow race, not guarded: another rotation of the same IAM user through a second credential
     * could list the keys between this CreateAccessKey and the store, see the new key unused and
     * delete it; this rotation's verify then fails, and the old key (still listed) keeps working.
     */
    regenerate: (spare) =>
      withSession(async (s) => {
        if (spare !== null && typeof spare !== 'string') throw new InvalidInputError(`slot: must be an access key id or null for ${label}`);
        const keys = await s.listKeys();
        const ids = keys.map((k) => k.AccessKeyId!);
        const use = await keyUse(vault, credentialId, s.key.accessKeyId, [...new Set([...ids, ...(spare ? [spare] : [])])]);
        const where = await s.where();
        if (spare !== null) refuseIfInUse(use, spare, where, 'regenerate (delete)');
        if (use.stored === null) {
          // Cannot happen with a key that signs in as this user; refuse rather than delete every key.
          throw new InvalidInputError(`regenerate ${where}: the credential's key ${s.key.accessKeyId} is not among the user's keys; nothing was changed`);
        }
        const unused = keys.filter((k) => k.AccessKeyId !== use.stored && !use.usedElsewhere.includes(k.AccessKeyId!));

        const stored = keys.find((k) => k.AccessKeyId === use.stored);
        if (
          (spare === null || !ids.includes(spare)) &&
          stored &&
          Date.now() - createdAt(stored) < ALREADY_REGENERATED_WINDOW_MS &&
          unused.length > 0 &&
          unused.every((k) => createdAt(k) < createdAt(stored))
        ) {
          return stored.AccessKeyId!;
        }

        if (keys.length - unused.length >= 2) {
          throw new RotationRefusedError(
            `regenerate ${where}: both access keys (${ids.filter((i) => !unused.some((k) => k.AccessKeyId === i)).join(', ')}) are used by vault credentials, and a user has at most two; nothing was changed`,
          );
        }
        for (const k of unused) await s.deleteKey(k.AccessKeyId!, false);

        const fresh = await s.createKey();
        try {
          await vault.replaceCredentialSecret(
            credentialId,
            { accessKeyId: fresh.accessKeyId, secretAccessKey: fresh.secretAccessKey },
            { accessKeyId: s.key.accessKeyId, secretAccessKey: s.key.secretAccessKey },
            { publicFields: ['accessKeyId'] },
          );
        } catch (err) {
          // Nothing holds the new key unless the store committed after all: then keep it.
          const holds = await vault.getCredential(credentialId).then(
            (m) => m.public.accessKeyId === fresh.accessKeyId,
            () => true,
          );
          if (!holds) await s.deleteKey(fresh.accessKeyId, false).catch(() => undefined);
          throw err;
        }
        return fresh.accessKeyId;
      }),

    /**
     * Nothing to do when the credential holds `slot` (regenerate stored it). Anything else is
     * refused: AWS shows a secret access key only in CreateAccessKey's answer, so the broker cannot
     * read an existing key's secret back to store it.
     */
    async store(slot) {
      const own = await ownKey(vault, credentialId);
      if (own.accessKeyId === slot) return;
      throw new InvalidInputError(
        `store ${String(slot)} in ${of}: it holds ${own.accessKeyId}, and AWS shows a secret access key only when the key is created, so it cannot be read back and stored; nothing was changed (regenerate stores the key it creates)`,
      );
    },

    /** STS GetCallerIdentity with the stored key, which must sign in as an IAM user. */
    async verifyStored() {
      const c = await vault.readCredential(credentialId);
      checkRotatable(c.public, c.secret);
      const who = await verifyAwsCredential(c, deps.aws?.endpoint ? { aws: deps.aws.endpoint } : {}, deps.aws?.region ?? DEFAULT_REGION);
      if (!IAM_USER_ARN_RE.test(who.arn)) {
        // Real AWS refuses an unknown key outright; emulators may answer with a default identity.
        throw new AuthenticationFailedError(`verify ${of}: its key does not sign in as an IAM user`);
      }
    },

    /** Deactivates, then deletes the old key; refused while a vault credential holds it; gone is done. */
    retire: (old) =>
      withSession(async (s) => {
        if (typeof old !== 'string' || old === '') throw new InvalidInputError(`slot: must be an access key id for ${label}`);
        const ids = (await s.listKeys()).map((k) => k.AccessKeyId!);
        const use = await keyUse(vault, credentialId, s.key.accessKeyId, [...new Set([...ids, old])]);
        refuseIfInUse(use, old, await s.where(), 'retire (delete)');
        if (!ids.includes(old)) return;
        await s.deleteKey(old, true);
      }),

    async close() {},
  };
}
