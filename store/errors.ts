/**
 * Errors the vault raises. Messages name the field and the rule and never contain a secret value.
 */

export class ValidationError extends Error {
  override readonly name = 'ValidationError';
  constructor(
    readonly field: string,
    readonly rule: string,
  ) {
    super(`${field}: ${rule}`);
  }
}

export class NotFoundError extends Error {
  override readonly name = 'NotFoundError';
  constructor(
    readonly what: string,
    readonly key: string,
  ) {
    super(`${what} "${key}" not found`);
  }
}

export class ConflictError extends Error {
  override readonly name = 'ConflictError';
}

/** The master key does not open the vault, or no key is configured. Nothing was changed. */
export class VaultKeyError extends Error {
  override readonly name = 'VaultKeyError';
}

/**
 * A sealed record does not decrypt under a key the vault holds: the row was altered or copied from
 * another record. Names the record, never its contents.
 */
export class VaultIntegrityError extends Error {
  override readonly name = 'VaultIntegrityError';
}
