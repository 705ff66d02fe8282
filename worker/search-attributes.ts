/**
 * Register the broker's search attributes on a namespace; already-registered ones are fine. Where the
 * server refuses the operator API (Temporal Cloud with an API key), the error names what to add by hand.
 */
import type { Connection } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { SEARCH_ATTRIBUTE_NAMES } from '../domain/run';

export async function ensureSearchAttributes(connection: Connection, namespace: string): Promise<void> {
  let registered: string[] = [];
  try {
    const existing = await connection.operatorService.listSearchAttributes({ namespace });
    registered = Object.keys(existing.customAttributes ?? {});
  } catch (err) {
    // The time-skipping test server has no ListSearchAttributes; adding is still possible there.
    if ((err as { code?: number }).code !== 12 /* UNIMPLEMENTED */) throw err;
  }
  const missing = SEARCH_ATTRIBUTE_NAMES.filter((n) => !registered.includes(n));
  if (!missing.length) return;
  const searchAttributes = Object.fromEntries(missing.map((n) => [n, temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD]));
  try {
    await connection.operatorService.addSearchAttributes({ namespace, searchAttributes });
  } catch (err) {
    const code = (err as { code?: number }).code;
    if (code === 6 /* ALREADY_EXISTS */) return;
    if (code === 7 /* PERMISSION_DENIED */ || code === 16 /* UNAUTHENTICATED */) {
      throw new Error(
        `namespace ${namespace} lacks the search attributes ${missing.join(', ')} (Keyword) and this identity may not add them (${(err as Error).message}); ` +
          `add them once with an admin identity, e.g. tcld namespace search-attributes add --namespace ${namespace} ${missing.map((n) => `--search-attribute ${n}=Keyword`).join(' ')}`,
      );
    }
    throw err;
  }
}
