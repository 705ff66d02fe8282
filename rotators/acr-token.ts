/**
 * Azure Container Registry token passwords: each token has two, `password1` and `password2`, read
 * and regenerated through the real ContainerRegistryManagementClient (`registries.get`, `tokens.get`,
 * `registries.generateCredentials`), verified with a real registry login (Registry HTTP API v2,
 * remote/registry/login.ts). The rotated credential is a `container-registry` credential whose
 * userName is the token's name and whose registryServer is the registry's login server.
 *
 * How this differs from the shared-key rotations, and why:
 *
 * - ACR shows a password's value once, in the answer to generateCredentials; `tokens.get` lists
 *   names, creation times and expiries only. So the slot a stored password belongs to cannot be found
 *   by comparing values. It is recorded in the credential's public field `tokenPasswordSlot`
 *   (credentials/registry.ts): set by the member who stores a password, and written by this rotator
 *   together with every password it generates. inspect() trusts it; verifyStored() proves the
 *   password works. A credential without it is refused (InvalidInputError) before anything changes.
 * - regenerate(spare) stores at once: it generates the spare's new password and writes it, with
 *   `tokenPasswordSlot`, into the credential in the same call (one vault write, guarded by the
 *   password it read before). A lost answer from ACR, or a failed vault write, leaves the spare
 *   holding a password nobody knows: harmless, since nothing used the spare, and the retried step
 *   generates it again. A retry after the write went through finds the credential on the spare
 *   already and returns it without generating again.
 * - store(slot) can only confirm: it is a no-op when the credential records `slot`, and refuses
 *   (RotationRefusedError) otherwise, since the value of a slot generated earlier cannot be read back.
 * - retire(slot) generates a new password in the old slot and throws it away: the old password stops
 *   working and the new one was never stored anywhere.
 * - fixedSlots is false: switching back to the first slot would need its value, which after
 *   retire() nobody has. The rotation ends on the other slot, and the next one moves back.
 *
 * Who uses which slot: the rotated credential's `tokenPasswordSlot`, and every other
 * `container-registry` credential in the vault with the same registry server and token name: its
 * own `tokenPasswordSlot`, or, without one, the rotated credential's slot if it holds the same
 * password. Another credential of the token that holds a different password and no marker makes the
 * rotation refuse (RotationRefusedError, naming it): it could be on either slot.
 *
 * The vault write changes a public field: replaceCredentialSecret with `publicFields:
 * ['tokenPasswordSlot']`, and `expect` over both the password and the marker read before. A vault
 * that refuses it makes regenerate fail with an InvalidInputError saying so; the credential is left
 * as it was and still works.
 */
import { ContainerRegistryManagementClient, type GenerateCredentialsResult, type Registry, type Token } from '@azure/arm-containerregistry';
import type { TokenCredential } from '@azure/identity';
import { TOKEN_PASSWORD_SLOTS, type TokenPasswordSlot } from '../credentials/registry';
import { ValidationError, ConnectionError, InvalidInputError, RotationRefusedError } from '../domain/errors';
import type { RotationSnapshot, RotationTarget } from '../domain/rotation';
import { sanitizeAzureError } from '../remote/azure/batch-keys';
import { verifyRegistryCredential } from '../remote/registry/login';
import { azureManagement } from './azure';
import { acrTokenLabel, tokenOf } from './kinds';
import { refuseIfInUse, sameSecret, type SlotUse } from './common';
import type { RotatorDeps, TwoSlotRotator } from './types';
import { safeCode } from '../remote/azure/names';

const SLOTS: readonly TokenPasswordSlot[] = TOKEN_PASSWORD_SLOTS;

function azureFailure(err: unknown, op: string, what: string): Error {
  const e = (err ?? {}) as { statusCode?: unknown; code?: unknown };
  if (e.statusCode === 404) {
    const code = safeCode(e.code);
    return new InvalidInputError(`${op}: ${what} not found (HTTP 404${code ? ` ${code}` : ''})`);
  }
  return sanitizeAzureError(err, `${op} on ${what}`);
}

interface TokenState {
  registry: Registry;
  token: Token;
  /** Slots that hold a password (ACR may show a token with one or none). */
  present: TokenPasswordSlot[];
  enabled: boolean;
}

export async function create(target: RotationTarget, deps: RotatorDeps): Promise<TwoSlotRotator> {
  const ref = await tokenOf(target, deps.vault);
  const mgmt = await azureManagement(target, deps);
  const what = acrTokenLabel(ref);
  const client = createAcrClient(mgmt.credential, ref.subscriptionId, mgmt.opts);

  const state = async (): Promise<TokenState> => {
    let registry: Registry;
    try {
      registry = await client.registries.get(ref.resourceGroup, ref.registryName);
    } catch (err) {
      throw azureFailure(err, 'registries.get', `container registry ${ref.registryName} (resource group ${ref.resourceGroup}, subscription ${ref.subscriptionId})`);
    }
    const loginServer = typeof registry.loginServer === 'string' ? registry.loginServer.toLowerCase() : undefined;
    if (loginServer !== ref.registryServer.toLowerCase()) {
      throw new InvalidInputError(`${what}: the credential's registryServer ${ref.registryServer} is not the registry's login server${loginServer && /^[a-z0-9.:-]{1,260}$/.test(loginServer) ? ` ${loginServer}` : ''}; the credential belongs to another registry`);
    }
    let token: Token;
    try {
      token = await client.tokens.get(ref.resourceGroup, ref.registryName, ref.tokenName);
    } catch (err) {
      throw azureFailure(err, 'tokens.get', what);
    }
    const present = SLOTS.filter((s) => token.credentials?.passwords?.some((p) => p.name === s));
    return { registry, token, present, enabled: token.status === undefined || token.status.toLowerCase() === 'enabled' };
  };

  const use = async (): Promise<SlotUse & { marker: TokenPasswordSlot | null }> => {
    const own = await deps.vault.readCredential(ref.credentialId);
    const marker = SLOTS.find((s) => s === own.public.tokenPasswordSlot) ?? null;
    const elsewhere = new Set<string>();
    const sameToken = (pub: Record<string, unknown>) =>
      String(pub.registryServer ?? '').toLowerCase() === ref.registryServer.toLowerCase() && String(pub.userName ?? '').toLowerCase() === ref.tokenName.toLowerCase();
    for (const meta of await deps.vault.listCredentialsOfKind('container-registry')) {
      if (meta.id === ref.credentialId || !sameToken(meta.public)) continue;
      const slot = SLOTS.find((s) => s === meta.public.tokenPasswordSlot);
      if (slot) {
        elsewhere.add(slot);
        continue;
      }
      const other = await deps.vault.readCredential(meta.id);
      if (marker && sameSecret(other.secret.password ?? '', own.secret.password ?? '')) {
        elsewhere.add(marker);
        continue;
      }
      throw new RotationRefusedError(
        `${what}: credential "${meta.name}" (${meta.id}) holds a password of the same token but does not record which (tokenPasswordSlot), so it could be on either; set its tokenPasswordSlot (or delete it) first. Nothing was changed`,
      );
    }
    return { stored: marker, usedElsewhere: [...elsewhere].sort(), marker };
  };

  const needMarker = (u: { marker: TokenPasswordSlot | null }): TokenPasswordSlot => {
    if (u.marker) return u.marker;
    throw new InvalidInputError(
      `${what}: the credential does not record which of the token's passwords it holds (tokenPasswordSlot, password1 or password2); ACR cannot tell by value, so save the credential again with tokenPasswordSlot set. Nothing was changed`,
    );
  };

  const slotName = (slot: string | null): TokenPasswordSlot => {
    const s = SLOTS.find((x) => x === slot);
    if (!s) throw new InvalidInputError(`slot: must be password1 or password2 for ${what}`);
    return s;
  };

  /** Generates `slot`'s new password and returns its value (shown by ACR this once). */
  const generate = async (st: TokenState, slot: TokenPasswordSlot, op: string): Promise<string> => {
    if (!st.enabled) throw new InvalidInputError(`${op} ${slot} of ${what}: the token is disabled; enable it first`);
    if (typeof st.token.id !== 'string' || st.token.id === '') throw new ConnectionError(`${op} ${slot} of ${what}: Azure's answer did not carry the token's resource id`);
    let result: GenerateCredentialsResult;
    try {
      result = await client.registries.generateCredentials(ref.resourceGroup, ref.registryName, { tokenId: st.token.id, name: slot });
    } catch (err) {
      throw azureFailure(err, `generateCredentials ${slot}`, what);
    }
    const value = result.passwords?.find((p) => p.name === slot)?.value;
    // Generated but not shown to us: the slot now holds a password nobody knows (nobody used it);
    // the retried step generates it again.
    if (typeof value !== 'string' || value === '') throw new ConnectionError(`generateCredentials ${slot} of ${what}: Azure's answer did not carry the new password`);
    return value;
  };

  return {
    label: what,

    async inspect(): Promise<RotationSnapshot> {
      const st = await state();
      if (!st.enabled) {
        return { rotatable: false, reason: `${what} is disabled: its passwords do not work, there is nothing to rotate`, slots: [...SLOTS], stored: null, usedElsewhere: [], fixedSlots: false };
      }
      const u = await use();
      const marker = needMarker(u);
      // A recorded slot that holds no password: the stored one cannot be the token's.
      return { rotatable: true, slots: [...SLOTS], stored: st.present.includes(marker) ? marker : null, usedElsewhere: u.usedElsewhere, fixedSlots: false };
    },

    async regenerate(slot) {
      const name = slotName(slot);
      const st = await state();
      const u = await use();
      needMarker(u);
      // A retry after this step's vault write went through: the credential is on `name` already.
      if (u.stored === name && !u.usedElsewhere.includes(name)) return name;
      refuseIfInUse(u, name, what, 'regenerate');
      const before = await deps.vault.readCredential(ref.credentialId);
      const value = await generate(st, name, 'regenerate');
      try {
        // Password and marker in one write, only if neither changed since they were read.
        await deps.vault.replaceCredentialSecret(
          ref.credentialId,
          { password: value, tokenPasswordSlot: name },
          { password: before.secret.password ?? '', tokenPasswordSlot: String(before.public.tokenPasswordSlot) },
          { publicFields: ['tokenPasswordSlot'] },
        );
      } catch (err) {
        if (err instanceof ValidationError && err.field === 'patch.tokenPasswordSlot') {
          throw new InvalidInputError(
            `regenerate ${name} of ${what}: the vault refused to record tokenPasswordSlot with the password (${err.rule.replace(/ of credential .*$/, '')}); the new ${name} was discarded and the credential is unchanged`,
          );
        }
        throw err;
      }
      return name;
    },

    async store(slot) {
      const name = slotName(slot);
      const u = await use();
      if (u.marker === name) return;
      throw new RotationRefusedError(
        `store ${name} of ${what}: ACR shows a token password only when it is generated, so ${name}'s value cannot be read back (regenerate stores it at once); the credential holds ${u.marker ?? 'a password of no recorded slot'}. Nothing was changed`,
      );
    },

    async verifyStored() {
      const c = await deps.vault.readCredential(ref.credentialId);
      await verifyRegistryCredential(String(c.public.registryServer), String(c.public.userName), c.secret.password ?? '', deps.azure?.ca ? { ca: deps.azure.ca } : {});
    },

    async retire(slot) {
      const name = slotName(slot);
      const st = await state();
      const u = await use();
      needMarker(u);
      refuseIfInUse(u, name, what, 'retire (regenerate)');
      // The new value is dropped: the old password stops working and the new one is never stored.
      await generate(st, name, 'retire (regenerate)');
    },

    async close() {},
  };
}

export function createAcrClient(credential: TokenCredential, subscriptionId: string, opts: { armEndpoint?: string; ca?: string; maxRetries?: number } = {}): ContainerRegistryManagementClient {
  return new ContainerRegistryManagementClient(credential, subscriptionId, {
    ...(opts.armEndpoint ? { endpoint: opts.armEndpoint } : {}),
    ...(opts.ca ? { tlsOptions: { ca: opts.ca } } : {}),
    ...(opts.maxRetries !== undefined ? { retryOptions: { maxRetries: opts.maxRetries } } : {}),
  });
}
