/**
 * Patch ids on both sides of the replay test: those the workflow source calls patched() /
 * deprecatePatch() with, and those a recorded history took (a MarkerRecorded event named core_patch).
 * replay.test.ts requires, for every patch of the source, a fixture that took it (so the patched
 * branch is replayed too, not only the old one); record.ts checks each fixture takes the patches its
 * scenario says.
 *
 * The source is read with the TypeScript parser, not a regular expression: comments that name
 * patched() are no calls, and a call whose id is not a string literal is reported (the scan could
 * not see its id, so the guard could not check it).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as ts from 'typescript';
import type { History } from '@temporalio/common/lib/proto-utils';

const WORKFLOWS_DIR = path.join(__dirname, '../../workflows');

/** The @temporalio/workflow functions that take a patch id. */
const PATCH_FUNCTIONS = new Set(['patched', 'deprecatePatch']);

/** What Temporal's core names a patch marker, and the details key of its JSON data ({ id, deprecated }). */
const PATCH_MARKER_NAME = 'core_patch';
const PATCH_MARKER_DETAILS_KEY = 'patch-data';

export interface PatchScan {
  /** Patch ids, sorted, each once. */
  ids: string[];
  /** Calls whose id is not a string literal, as `file:line: text`. */
  unreadable: string[];
}

/** The patch ids one source file calls patched() / deprecatePatch() with. */
export function patchCallsIn(source: string, fileName = 'source.ts'): PatchScan {
  const file = ts.createSourceFile(fileName, source, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const ids = new Set<string>();
  const unreadable: string[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isCallExpression(node)) {
      const callee = node.expression;
      const name = ts.isIdentifier(callee) ? callee.text : ts.isPropertyAccessExpression(callee) ? callee.name.text : undefined;
      if (name && PATCH_FUNCTIONS.has(name)) {
        const arg = node.arguments[0];
        if (arg && (ts.isStringLiteral(arg) || ts.isNoSubstitutionTemplateLiteral(arg))) ids.add(arg.text);
        else {
          const { line } = file.getLineAndCharacterOfPosition(node.getStart(file));
          unreadable.push(`${fileName}:${line + 1}: ${node.getText(file)}`);
        }
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(file);
  return { ids: [...ids].sort(), unreadable };
}

/** The patch ids of every .ts file under the workflows folder. */
export function workflowPatchIds(dir = WORKFLOWS_DIR): PatchScan & { files: string[] } {
  const files = (fs.readdirSync(dir, { recursive: true }) as string[]).filter((f) => f.endsWith('.ts')).sort();
  const ids = new Set<string>();
  const unreadable: string[] = [];
  for (const f of files) {
    const scan = patchCallsIn(fs.readFileSync(path.join(dir, f), 'utf8'), path.join(path.basename(dir), f));
    scan.ids.forEach((id) => ids.add(id));
    unreadable.push(...scan.unreadable);
  }
  return { ids: [...ids].sort(), unreadable, files };
}

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
