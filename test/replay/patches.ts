/**
 * The patch ids a recorded history took (a MarkerRecorded event named core_patch): record.ts checks
 * each fixture takes the patches its scenario says.
 */
import type { History } from '@temporalio/common/lib/proto-utils';

/** What Temporal's core names a patch marker, and the details key of its JSON data ({ id, deprecated }). */
const PATCH_MARKER_NAME = 'core_patch';
const PATCH_MARKER_DETAILS_KEY = 'patch-data';

/** The patch ids a history took (deprecated or not), in the order of their markers. */
export function patchesTaken(history: History): string[] {
  const ids: string[] = [];
  for (const e of history.events ?? []) {
    const marker = e.markerRecordedEventAttributes;
    if (marker?.markerName !== PATCH_MARKER_NAME) continue;
    const data = marker.details?.[PATCH_MARKER_DETAILS_KEY]?.payloads?.[0]?.data;
    if (!data) continue;
    const id = (JSON.parse(Buffer.from(data).toString('utf8')) as { id?: unknown }).id;
    if (typeof id === 'string') ids.push(id);
  }
  return ids;
}
