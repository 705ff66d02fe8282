/**
 * The contract of a credential kind. Each kind validates the fields a member submits and splits them
 * into public fields (shown in listings) and secret fields (sealed in the vault, never returned).
 * Validation errors are domain/errors ValidationError naming the field and the rule.
 */

export interface ParsedCredential {
  public: Record<string, unknown>;
  secret: Record<string, string>;
}

export interface CredentialKind {
  readonly kind: string;
  /** One line for help text. */
  readonly description: string;
  parse(fields: Record<string, unknown>): ParsedCredential | Promise<ParsedCredential>;
}
