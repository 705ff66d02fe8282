/**
 * Storage accounts for the Azure fake (test/harness/azure-fake.ts), installed with `fake.use(...)`:
 *
 *   ARM (bearer)  GET  /subscriptions/{s}/resourceGroups/{rg}/providers/Microsoft.Storage/storageAccounts/{a}
 *                      -> the account, with properties.allowSharedKeyAccess and primaryEndpoints.blob
 *                 POST .../storageAccounts/{a}/listKeys        -> {keys: [{keyName: 'key1', value, permissions: 'FULL', creationTime}, ...key2]}
 *                 POST .../storageAccounts/{a}/regenerateKey   {"keyName": "key1" | "key2"} -> the same shape
 *
 * Shapes follow the Microsoft.Storage REST reference, as @azure/arm-storage 20 deserializes them.
 * An account with allowSharedKeyAccess false refuses listKeys and regenerateKey with 409
 * KeyBasedAuthenticationNotPermitted (uncertain: Azure's own behaviour there was not confirmed; the
 * code is the one its data plane uses). Call kinds: 'storageAccount', 'storageListKeys',
 * 'storageRegenerateKey'; `call.detail` is the keyName asked for.
 *
 * `onKeysChanged` runs after a regenerate changed a key and before the answer is sent (even when the
 * answer is then lost on purpose), so a test can restart Azurite with the account's current keys.
 */
import { armError, json, type AzureFake, type FakeRouteContext } from './azure-fake';

export interface FakeStorageAccountInit {
  subscriptionId: string;
  resourceGroup: string;
  name: string;
  location?: string;
  /** true, false, or null (the property left out, as on accounts created before it existed: means true). */
  allowSharedKeyAccess?: boolean | null;
}

export interface FakeStorageAccount {
  subscriptionId: string;
  resourceGroup: string;
  name: string;
  location: string;
  allowSharedKeyAccess: boolean | null;
  key1: string;
  key2: string;
  key1Created: string;
  key2Created: string;
}

export type KeysChanged = (account: FakeStorageAccount) => void | Promise<void>;

export interface FakeStorage {
  addAccount(init: FakeStorageAccountInit): FakeStorageAccount;
  account(subscriptionId: string, resourceGroup: string, name: string): FakeStorageAccount | undefined;
  /** Called after each regenerate that changed a key (before the answer goes out). */
  onKeysChanged(cb: KeysChanged): void;
}

const STORAGE_RE = /^\/subscriptions\/([^/]+)\/resourceGroups\/([^/]+)\/providers\/Microsoft\.Storage\/storageAccounts\/([^/]+)(?:\/([^/]+))?$/i;

/** Installs the storage routes on `fake` and returns the account registry. */
export function useFakeStorage(fake: AzureFake): FakeStorage {
  const accounts = new Map<string, FakeStorageAccount>();
  const listeners: KeysChanged[] = [];
  const id = (sub: string, rg: string, name: string) => `${sub.toLowerCase()}/${rg.toLowerCase()}/${name.toLowerCase()}`;

  const resource = (a: FakeStorageAccount) => {
    const properties: Record<string, unknown> = {
      keyCreationTime: { key1: a.key1Created, key2: a.key2Created },
      privateEndpointConnections: [],
      minimumTlsVersion: 'TLS1_2',
      allowBlobPublicAccess: false,
      networkAcls: { bypass: 'AzureServices', virtualNetworkRules: [], ipRules: [], defaultAction: 'Allow' },
      supportsHttpsTrafficOnly: true,
      encryption: {
        services: { file: { keyType: 'Account', enabled: true }, blob: { keyType: 'Account', enabled: true } },
        keySource: 'Microsoft.Storage',
      },
      accessTier: 'Hot',
      provisioningState: 'Succeeded',
      creationTime: a.key1Created,
      primaryEndpoints: {
        dfs: `https://${a.name}.dfs.core.windows.net/`,
        web: `https://${a.name}.z6.web.core.windows.net/`,
        blob: `https://${a.name}.blob.core.windows.net/`,
        queue: `https://${a.name}.queue.core.windows.net/`,
        table: `https://${a.name}.table.core.windows.net/`,
        file: `https://${a.name}.file.core.windows.net/`,
      },
      primaryLocation: a.location,
      statusOfPrimary: 'available',
    };
    if (a.allowSharedKeyAccess !== null) properties.allowSharedKeyAccess = a.allowSharedKeyAccess;
    return {
      sku: { name: 'Standard_LRS', tier: 'Standard' },
      kind: 'StorageV2',
      id: `/subscriptions/${a.subscriptionId}/resourceGroups/${a.resourceGroup}/providers/Microsoft.Storage/storageAccounts/${a.name}`,
      name: a.name,
      type: 'Microsoft.Storage/storageAccounts',
      location: a.location,
      tags: {},
      properties,
    };
  };
  const keysBody = (a: FakeStorageAccount) => ({
    keys: [
      { creationTime: a.key1Created, keyName: 'key1', value: a.key1, permissions: 'FULL' },
      { creationTime: a.key2Created, keyName: 'key2', value: a.key2, permissions: 'FULL' },
    ],
  });

  async function route(ctx: FakeRouteContext): Promise<boolean> {
    const m = STORAGE_RE.exec(ctx.url.pathname);
    if (!m) return false;
    const [sub, rg, name, action] = m.slice(1).map((s) => (s === undefined ? s : decodeURIComponent(s)));
    const { call, res, method } = ctx;
    call.account = name;
    call.kind = action === undefined ? 'storageAccount' : action === 'listKeys' ? 'storageListKeys' : action === 'regenerateKey' ? 'storageRegenerateKey' : 'other';
    if (!ctx.requireBearer()) return true;
    const a = accounts.get(id(sub!, rg!, name!));
    if (!a) {
      armError(res, 404, 'ResourceNotFound', `The Resource 'Microsoft.Storage/storageAccounts/${name}' under resource group '${rg}' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix`);
      return true;
    }
    if (action === undefined && method === 'GET') {
      ctx.finish(() => json(res, 200, resource(a)));
      return true;
    }
    if (method === 'POST' && (action === 'listKeys' || action === 'regenerateKey')) {
      if (a.allowSharedKeyAccess === false) {
        armError(res, 409, 'KeyBasedAuthenticationNotPermitted', 'Key based authentication is not permitted on this storage account.');
        return true;
      }
      if (action === 'listKeys') {
        ctx.finish(() => json(res, 200, keysBody(a)));
        return true;
      }
      let keyName: unknown;
      try {
        keyName = (JSON.parse(ctx.body || '{}') as { keyName?: unknown }).keyName;
      } catch {
        armError(res, 400, 'InvalidRequestContent', 'The request content was invalid and could not be deserialized.');
        return true;
      }
      call.detail = String(keyName);
      const now = new Date().toISOString();
      if (keyName === 'key1') {
        a.key1 = fake.generateKey();
        a.key1Created = now;
      } else if (keyName === 'key2') {
        a.key2 = fake.generateKey();
        a.key2Created = now;
      } else {
        armError(res, 400, 'InvalidValuesForRequestParameters', "Values for request parameters are invalid: keyName. Allowed values: 'key1', 'key2'.");
        return true;
      }
      for (const cb of listeners) await cb(a);
      ctx.finish(() => json(res, 200, keysBody(a)));
      return true;
    }
    armError(res, 405, 'MethodNotAllowed', `${method} is not supported here`);
    return true;
  }

  fake.use(route);

  return {
    addAccount(init) {
      const created = new Date(Date.now() - 86_400_000).toISOString();
      const acct: FakeStorageAccount = {
        location: 'westeurope',
        ...init,
        allowSharedKeyAccess: init.allowSharedKeyAccess === undefined ? true : init.allowSharedKeyAccess,
        key1: fake.generateKey(),
        key2: fake.generateKey(),
        key1Created: created,
        key2Created: created,
      };
      accounts.set(id(acct.subscriptionId, acct.resourceGroup, acct.name), acct);
      return acct;
    },
    account: (sub, rg, name) => accounts.get(id(sub, rg, name)),
    onKeysChanged(cb) {
      listeners.push(cb);
    },
  };
}
