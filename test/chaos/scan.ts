/**
 * Search bytes for many secret values at once, fast enough for every file of a data directory: a
 * bitmap of the values' first two bytes, then a byte comparison where it matches. Each value is
 * looked for as UTF-8 and, when it differs, in its JSON-escaped ASCII form (\u00e6 ...). Hits name
 * the value by its index, never by the value.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

export interface Hit {
  /** Index of the value in the list given to the scanner. */
  value: number;
  source: string;
  offset: number;
}

function asciiJson(v: string): string {
  return JSON.stringify(v)
    .slice(1, -1)
    .replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

export class ValueScanner {
  private readonly patterns: { value: number; bytes: Buffer }[] = [];
  private readonly first = new Uint8Array(65536);
  private readonly byKey = new Map<number, number[]>();
  readonly hits: Hit[] = [];
  /** Sources searched and bytes read, by kind. */
  readonly searched: Record<string, { sources: number; bytes: number }> = {};

  constructor(values: readonly string[]) {
    values.forEach((v, i) => {
      if (Buffer.byteLength(v) < 4) throw new Error(`value #${i} is shorter than 4 bytes: a miss would mean nothing`);
      const forms = new Set([v, asciiJson(v)]);
      for (const f of forms) {
        const bytes = Buffer.from(f, 'utf8');
        const idx = this.patterns.push({ value: i, bytes }) - 1;
        const key = (bytes[0]! << 8) | bytes[1]!;
        this.first[key] = 1;
        const list = this.byKey.get(key) ?? [];
        list.push(idx);
        this.byKey.set(key, list);
      }
    });
  }

  /** Hits of every value in `buf` (recorded, and returned). */
  scan(buf: Buffer, source: string, kind: string): Hit[] {
    const s = (this.searched[kind] ??= { sources: 0, bytes: 0 });
    s.sources++;
    s.bytes += buf.length;
    const found: Hit[] = [];
    const first = this.first;
    const end = buf.length - 1;
    for (let i = 0; i < end; i++) {
      const key = (buf[i]! << 8) | buf[i + 1]!;
      if (first[key] === 0) continue;
      for (const p of this.byKey.get(key)!) {
        const b = this.patterns[p]!.bytes;
        if (i + b.length <= buf.length && buf.compare(b, 0, b.length, i, i + b.length) === 0) {
          found.push({ value: this.patterns[p]!.value, source, offset: i });
        }
      }
    }
    this.hits.push(...found);
    return found;
  }

  scanText(text: string, source: string, kind: string): Hit[] {
    return this.scan(Buffer.from(text, 'utf8'), source, kind);
  }

  /** Every regular file under `dir` (links not followed). */
  scanTree(dir: string, kind: string): void {
    if (!fs.existsSync(dir)) return;
    for (const file of filesUnder(dir)) {
      let buf: Buffer;
      try {
        buf = fs.readFileSync(file);
      } catch {
        continue; // gone meanwhile (a server's temporary file)
      }
      this.scan(buf, file, kind);
    }
  }
}

function filesUnder(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) out.push(p);
    }
  };
  walk(dir);
  return out;
}

/** Whether `needle` occurs in any regular file under `dir`: a control that the search can find things. */
export function treeContains(dir: string, needle: string): boolean {
  const b = Buffer.from(needle, 'utf8');
  return filesUnder(dir).some((f) => {
    try {
      return fs.readFileSync(f).includes(b);
    } catch {
      return false;
    }
  });
}
