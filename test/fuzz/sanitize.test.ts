/**
 * The sanitizer (domain/sanitize.ts) for any value and any message: a value embedded in a message,
 * as it is or JSON-escaped, does not survive `redact`; values shorter than four characters do not
 * survive where they stand alone (no ASCII letter or digit touching them); a message that holds
 * neither a value nor its JSON-escaped form comes out unchanged; and nothing makes `redact` throw.
 */
import fc from 'fast-check';
import { REDACTED, redact, stringLeaves } from '../../domain/sanitize';
import { anyString, edgeChar, fuzz } from './fuzz';

const escaped = (v: string) => JSON.stringify(v).slice(1, -1);
const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** `form` occurs in `text` standing alone: no ASCII letter or digit right before or after it. */
function standsAlone(text: string, form: string): boolean {
  return new RegExp(`(?<![A-Za-z0-9])${escapeRegExp(form)}(?![A-Za-z0-9])`).test(text);
}

/**
 * Whether `value` survives in `out`: in any stretch between two [REDACTED] markers, whole (four
 * characters or more) or standing alone (shorter). The markers are cut out first, so a value made of
 * the marker's own characters ("ACTE") does not count as having survived.
 */
function survives(out: string, value: string): boolean {
  return out.split(REDACTED).some((piece) => (value.length >= 4 ? piece.includes(value) : standsAlone(piece, value)));
}

const values = fc.oneof(
  anyString(24).filter((v) => v.length > 0),
  fc.string({ unit: edgeChar, minLength: 1, maxLength: 6 }),
  fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 3 }),
);

/** Text around a value; for short values it ends (before) and starts (after) with something that is not a letter or digit. */
function around(value: string): fc.Arbitrary<[string, string]> {
  const text = anyString(30);
  if (value.length >= 4) return fc.tuple(text, text);
  const sep = fc.constantFrom(' ', ': ', '"', '(', ')', '=', '\n', '/', ',', 'é ');
  return fc.tuple(fc.oneof(fc.constant(''), fc.tuple(text, sep).map(([t, s]) => t + s)), fc.oneof(fc.constant(''), fc.tuple(sep, text).map(([s, t]) => s + t)));
}

describe('redact', () => {
  test('a value embedded in any message, as it is or JSON-escaped, does not survive', () => {
    const cases = values.chain((value) =>
      fc.tuple(fc.constant(value), around(value), fc.constantFrom('raw', 'json', 'json-object', 'twice')).map(([v, [before, after], how]) => {
        const message =
          how === 'raw'
            ? before + v + after
            : how === 'json'
              ? before + escaped(v) + after
              : how === 'json-object'
                ? `${before}${JSON.stringify({ error: 'refused', value: v })} ${after}`
                : `${before}${v} and again ${v}${after}`;
        return { value: v, message };
      }),
    );
    fc.assert(
      fc.property(cases, ({ value, message }) => {
        const out = redact(message, [value]);
        expect(survives(out, value)).toBe(false);
        if (escaped(value) !== value) expect(survives(out, escaped(value))).toBe(false);
        expect(out).toContain(REDACTED);
      }),
      fuzz(3000),
    );
  });

  test('several values in one message: none survives, whichever contains which', () => {
    const cases = fc.array(values, { minLength: 2, maxLength: 4 }).chain((vals) =>
      fc.tuple(fc.constant(vals), fc.array(fc.constantFrom(' ', ' | ', '": "', '\n'), { minLength: vals.length + 1, maxLength: vals.length + 1 })).map(([vs, seps]) => ({
        values: vs,
        message: seps[0] + vs.map((v, i) => v + seps[i + 1]).join(''),
      })),
    );
    fc.assert(
      fc.property(cases, ({ values: vs, message }) => {
        const out = redact(message, vs);
        for (const v of vs) expect(survives(out, v)).toBe(false);
      }),
      fuzz(2000),
    );
  });

  test('a message holding neither the value nor its JSON-escaped form comes out unchanged', () => {
    fc.assert(
      fc.property(fc.array(values, { maxLength: 3 }), anyString(80), (vals, message) => {
        fc.pre(vals.every((v) => !message.includes(v) && !message.includes(escaped(v))));
        expect(redact(message, vals)).toBe(message);
      }),
      fuzz(3000),
    );
  });

  test('never throws; undefined, null and empty values are ignored', () => {
    fc.assert(
      fc.property(anyString(60), fc.array(fc.oneof(anyString(10), fc.constant(undefined), fc.constant(null), fc.constant(''))), (message, vals) => {
        const out = redact(message, vals);
        expect(typeof out).toBe('string');
        if (vals.every((v) => !v)) expect(out).toBe(message);
      }),
      fuzz(2000),
    );
  });
});

describe('stringLeaves', () => {
  test('every string of a request body 20 levels deep, longest first', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 6 }), (body) => {
        const leaves = stringLeaves(body);
        const expected: string[] = [];
        const walk = (v: unknown) => {
          if (typeof v === 'string') expected.push(v);
          else if (v && typeof v === 'object') for (const x of Object.values(v)) walk(x);
        };
        walk(body);
        expect([...leaves].sort()).toEqual([...expected].sort());
        for (let i = 1; i < leaves.length; i++) expect(leaves[i - 1]!.length).toBeGreaterThanOrEqual(leaves[i]!.length);
      }),
      fuzz(1000),
    );
  });
});
