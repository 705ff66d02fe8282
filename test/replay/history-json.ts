/**
 * History <-> JSON for the replay fixtures: what historyToJSON / historyFromJSON of
 * @temporalio/common/lib/proto-utils do, in the same canonical proto JSON (the format of
 * `temporal workflow show --output json` and of the Web UI's download).
 *
 * Why not the SDK's own: in this install protobufjs 7 sits at the top of node_modules (google-gax,
 * @grpc/proto-loader) and @temporalio/common, /proto and /worker each get their own copy of
 * protobufjs 8. common's protojson then refuses the message types built by proto's copy
 * ("TypeError: type must be a Type"), so both SDK helpers throw, and so does Worker.runReplayHistory
 * when handed JSON. Here protojson is loaded from the protobufjs copy @temporalio/proto resolves, so
 * it works whether or not npm dedupes those copies.
 */
import * as path from 'node:path';
import * as proto from '@temporalio/proto';
import { patchProtobufRoot } from '@temporalio/proto/lib/patch-protobuf-root';
import type { History } from '@temporalio/common/lib/proto-utils';

interface ProtoJson {
  toJson(type: unknown, message: unknown): unknown;
  fromJson(type: unknown, json: unknown, options?: { ignoreUnknownFields?: boolean }): unknown;
}

const protojson = require(require.resolve('protobufjs/ext/protojson', { paths: [path.dirname(require.resolve('@temporalio/proto'))] })) as ProtoJson;
const historyType = (patchProtobufRoot(proto) as unknown as { lookupType(name: string): unknown }).lookupType('temporal.api.history.v1.History');

/** A history (as fetchHistory returns it) as canonical proto JSON: `{ events: [...] }`. */
export function historyToJSONObject(history: History): { events: unknown[] } {
  return protojson.toJson(historyType, proto.temporal.api.history.v1.History.fromObject(history)) as { events: unknown[] };
}

/** Canonical proto JSON (extra top-level fields, such as a fixture's workflowId, are ignored) as a History. */
export function historyFromJSONObject(json: unknown): History {
  if (typeof json !== 'object' || json === null || !Array.isArray((json as { events?: unknown }).events)) {
    throw new TypeError('not a history: expected an object with an array of events');
  }
  const history = protojson.fromJson(historyType, { events: (json as { events: unknown[] }).events }, { ignoreUnknownFields: true }) as History | null;
  if (!history) throw new TypeError('not a history');
  return history;
}
