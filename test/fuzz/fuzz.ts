/**
 * What every fuzz suite shares: one fixed seed (so CI runs the same inputs every time, and a failure
 * names the seed and path that reproduce it), the number of runs of each property scaled by
 * FUZZ_SCALE (deeper runs by hand: `FUZZ_SCALE=20 scripts/test.sh test/fuzz`), and the string
 * arbitraries that reach the corners: lone surrogates, control characters, non-ASCII letters.
 *
 * Reproduce a failure with the `seed` (and `path`) fast-check prints: FUZZ_SEED=<seed> scripts/test.sh <suite>.
 */
import fc from 'fast-check';

/** The seed of every property; FUZZ_SEED overrides it (fast-check prints it with every counterexample). */
const FUZZ_SEED = Number(process.env.FUZZ_SEED ?? 0x5ec12e7);
const SCALE = Number(process.env.FUZZ_SCALE ?? 1);

/** fast-check parameters: the fixed seed and `runs` runs (scaled by FUZZ_SCALE). */
export function fuzz<T = unknown>(runs: number): fc.Parameters<T> {
  return { seed: FUZZ_SEED, numRuns: Math.max(1, Math.round(runs * SCALE)), verbose: 1 };
}

/** One UTF-16 code unit: lone surrogates included (JSON's `\ud800` escapes produce them). */
const anyCodeUnit = fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c));

/** Characters near the rules' edges: ASCII punctuation, controls, line breaks, non-ASCII letters and digits, surrogates. */
export const edgeChar = fc.constantFrom(
  '-', '_', '__', ' ', '\t', '\n', '\r', '\r\n', '\u0000', '\u007f', '"', "'", '\\', '$', '`', '{', '}', '/', '+', '=', ':', '@', '.',
  'Ä', 'é', 'ß', 'İ', 'Ω', '١', '０', 'Ａ', '\u00a0', '\u2028', '\ufeff', '\ud800', '\udfff', '\ud83d\ude00', '\u0301',
);

/** Strings of every kind: printable ASCII, any code point, any code unit, and edge characters mixed in. */
export function anyString(maxLength = 40): fc.Arbitrary<string> {
  return fc.oneof(
    fc.string({ unit: 'grapheme-ascii', maxLength }),
    fc.string({ unit: 'binary', maxLength }),
    fc.string({ unit: anyCodeUnit, maxLength }),
    fc.string({ unit: fc.oneof(fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 1 }), edgeChar), maxLength }),
  );
}

/** A string over `alphabet` (each unit a string), `minLength` to `maxLength` units long. */
export function over(alphabet: string[], minLength: number, maxLength: number): fc.Arbitrary<string> {
  return fc.string({ unit: fc.constantFrom(...alphabet), minLength, maxLength });
}

export const ASCII_LETTERS = [...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz'];
export const DIGITS = [...'0123456789'];

/** The error a synchronous call throws, or undefined. */
export function thrownNow(fn: () => unknown): unknown {
  try {
    fn();
    return undefined;
  } catch (err) {
    return err;
  }
}

/** The error a call throws (or its promise rejects with), or undefined. */
export async function thrown(fn: () => unknown): Promise<unknown> {
  try {
    await fn();
    return undefined;
  } catch (err) {
    return err;
  }
}

/** A value with every character a shell or JSON treats specially, for round trips. */
export const NASTY_VALUE = `q"uo'te $HOME \${X} \`id\` back\\slash \\n \\u0000 tab\there ünï 😀 </script> %s %d`;

/** Any JSON value, with strings of every kind and the keys a JSON parser treats specially. */
const anyJson: fc.Arbitrary<unknown> = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  anyString(30),
  fc.constantFrom(null, true, 0, -1, 1e308, '', ' ', NASTY_VALUE, [], {}, { __proto__: null, constructor: 'x' }, '1h', '0s', '-1d', '99999999999d'),
  fc.dictionary(fc.constantFrom('__proto__', 'constructor', 'prototype', 'toString', 'name', 'value'), fc.jsonValue({ maxDepth: 1 })),
);

/** A string as pasted: whitespace or a line end around it, a character changed or lost, cut short. */
function editedString(s: string): fc.Arbitrary<string> {
  const at = fc.nat({ max: Math.max(0, s.length - 1) });
  return fc.oneof(
    fc.tuple(fc.constantFrom('', ' ', '\t', '\n', '\r\n', '\u00a0', '\ufeff'), fc.constantFrom('', ' ', '\n', '\r\n', '\t', '\u0000')).map(([a, b]) => a + s + b),
    fc.tuple(at, edgeChar).map(([i, c]) => s.slice(0, i) + c + s.slice(i + 1)),
    fc.tuple(at, fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 1 })).map(([i, c]) => s.slice(0, i) + c + s.slice(i + 1)),
    at.map((i) => s.slice(0, i) + s.slice(i + 1)),
    at.map((i) => s.slice(0, i)),
    fc.constantFrom(s.toUpperCase(), s.toLowerCase()),
  );
}

/**
 * A valid object with one change: a field set to any JSON value or its string edited, a field
 * removed, a field it does not take added; the same one level down; or (whole) any JSON value instead.
 */
export function mutated(valid: Record<string, unknown>, opts: { whole?: boolean } = {}): fc.Arbitrary<unknown> {
  const keys = Object.keys(valid);
  const texts = Object.entries(valid).filter((e): e is [string, string] => typeof e[1] === 'string' && e[1].length > 0);
  const nested = Object.entries(valid).filter((e): e is [string, Record<string, unknown>] => e[1] !== null && typeof e[1] === 'object' && !Array.isArray(e[1]));
  const variants: Array<fc.Arbitrary<unknown>> = [fc.tuple(fc.string({ maxLength: 12 }), anyJson).map(([k, v]) => ({ ...valid, [k]: v }))];
  if (opts.whole !== false) variants.push(anyJson);
  if (keys.length) {
    variants.push(
      fc.tuple(fc.constantFrom(...keys), anyJson).map(([k, v]) => ({ ...valid, [k]: v })),
      fc.constantFrom(...keys).map((k) => Object.fromEntries(Object.entries(valid).filter(([key]) => key !== k))),
    );
  }
  if (texts.length) {
    variants.push(fc.constantFrom(...texts).chain(([k, s]) => editedString(s).map((v) => ({ ...valid, [k]: v }))));
  }
  if (nested.length) {
    variants.push(fc.constantFrom(...nested).chain(([k, inner]) => mutated(inner, { whole: false }).map((v) => ({ ...valid, [k]: v }))));
  }
  return fc.oneof(...variants);
}
