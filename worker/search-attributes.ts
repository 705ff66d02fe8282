/** Register the broker's search attributes on a namespace; already-registered ones are fine. */
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
    if ((err as { code?: number }).code !== 6 /* ALREADY_EXISTS */) throw err;
  }
}
