/** The vault: open it, rotate its master key, and the rules every door applies. */
export { openVault, type VaultOptions } from './vault';
export { rewrapVault, type RewrapOptions, type RewrapResult } from './rewrap';
export * from '../domain/rules';
export * from '../domain/errors';
export type * from './types';
export {
  MASTER_KEY_ENV,
  MASTER_KEY_FILE_ENV,
  MASTER_KEY_NEXT_ENV,
  DEFAULT_KEY_FILE_NAME,
  generateKey,
  encodeKey,
  parseKeyMaterial,
} from './master-key';
export { keyIdOf } from './crypto';
export { pgliteDir } from './db';
