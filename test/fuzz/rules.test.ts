/**
 * The acceptance rules of domain/rules.ts against independent oracles. For every string: the rule
 * accepts exactly what the oracle accepts, and every refusal is one of the fixed rules (so it never
 * repeats the input) and is true of the input (a name refused as "must start with a letter" really
 * starts with something that is not a letter, not with an "Ä"). Accepted values survive the UTF-8
 * encoding the vault seals them with, byte for byte.
 */
import fc from 'fast-check';
import { ValidationError } from '../../domain/errors';
import {
  EntityNameRule,
  NEXTFLOW_SECRET_NAME,
  RUN_ID_PATTERN,
  SecretNameRule,
  SecretValueRule,
  assertEntityName,
  assertSecretName,
  assertSecretValue,
  entityNameProblem,
  secretNameProblem,
  secretValueProblem,
  storableTextProblem,
} from '../../domain/rules';
import { ASCII_LETTERS, DIGITS, anyString, edgeChar, fuzz, over, thrownNow } from './fuzz';

const isAscii = (ch: string) => ch.codePointAt(0)! <= 0x7f;
const LONE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** "<rule>: character N is not": N, and the rule before it. */
function positional(rule: string): { base: string; at: number } | null {
  const m = /^(.*): character (\d+) is not$/s.exec(rule);
  return m ? { base: m[1]!, at: Number(m[2]) } : null;
}

/** The rule names the first non-ASCII character, counting code points from 1. */
function namesFirstNonAscii(name: string, at: number): boolean {
  const chars = Array.from(name);
  return at >= 1 && at <= chars.length && !isAscii(chars[at - 1]!) && chars.slice(0, at - 1).every(isAscii);
}

// -- secret names ------------------------------------------------------------------------------

/** Nextflow's rule, written out independently: ASCII letters, digits, single underscores, 2-50, not a leading digit or "__". */
function nameOracle(name: string): boolean {
  return /^[A-Za-z_][A-Za-z0-9_]{1,49}$/.test(name) && !name.includes('__');
}

/** What each secret-name rule claims about the name. */
function secretNameRuleHolds(name: string, rule: string): boolean {
  const p = positional(rule);
  if (p) return p.base === SecretNameRule.nonAscii && namesFirstNonAscii(name, p.at);
  switch (rule) {
    case SecretNameRule.hyphen:
      return name.includes('-');
    case SecretNameRule.length:
      return name.length < 2 || name.length > 50;
    case SecretNameRule.firstChar:
      return isAscii(name[0]!) && !/^[A-Za-z_]/.test(name);
    case SecretNameRule.leadingDoubleUnderscore:
      return name.startsWith('__');
    case SecretNameRule.doubleUnderscore:
      return name.includes('__');
    case SecretNameRule.chars:
      return /[\x00-\x2f\x3a-\x40\x5b-\x5e\x60\x7b-\x7f]/.test(name);
    default:
      return false;
  }
}

const secretNames = fc.oneof(
  anyString(60),
  over([...ASCII_LETTERS, ...DIGITS, '_', '-', 'Ä', 'é', ' ', '.'], 0, 55),
  fc.tuple(fc.constantFrom('Ä', 'é', 'ß', '١', 'Ａ', '😀', '\ud800'), over([...ASCII_LETTERS, '_'], 1, 10)).map(([a, b]) => a + b),
);

describe('secret names', () => {
  test('accepted exactly when Nextflow would export them; each refusal is a fixed rule, true of the name', () => {
    fc.assert(
      fc.property(secretNames, (name) => {
        const problem = secretNameProblem(name);
        expect(problem === null).toBe(nameOracle(name));
        if (problem === null) {
          expect(NEXTFLOW_SECRET_NAME.test(name)).toBe(true);
          return;
        }
        expect(secretNameRuleHolds(name, problem)).toBe(true);
        const err = thrownNow(() => assertSecretName(name));
        expect(err).toBeInstanceOf(ValidationError);
        expect(err).toMatchObject({ field: 'name', rule: problem });
      }),
      fuzz(3000),
    );
  });

  test('a name starting with a non-ASCII letter is told about ASCII, not that it must start with a letter', () => {
    expect(secretNameProblem('ÄB')).toBe(`${SecretNameRule.nonAscii}: character 1 is not`);
    expect(secretNameProblem('ÄB')).not.toMatch(/must start with a letter/);
    expect(secretNameProblem('TOKÉN')).toBe(`${SecretNameRule.nonAscii}: character 4 is not`);
    expect(secretNameProblem('\ud83d\ude00AB')).toBe(`${SecretNameRule.nonAscii}: character 1 is not`);
  });
});

// -- entity names ------------------------------------------------------------------------------

function entityOracle(name: string): boolean {
  return /^[A-Za-z0-9_-]{1,100}$/.test(name) && !/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(name);
}

function entityRuleHolds(name: string, rule: string): boolean {
  const p = positional(rule);
  if (p) return p.base === EntityNameRule.nonAscii && namesFirstNonAscii(name, p.at);
  switch (rule) {
    case EntityNameRule.length:
      return name.length < 1 || name.length > 100;
    case EntityNameRule.chars:
      return [...name].every(isAscii) && /[^A-Za-z0-9_-]/.test(name);
    case EntityNameRule.idShape:
      return /^[0-9a-f-]{36}$/i.test(name);
    default:
      return false;
  }
}

describe('workspace, user, credential and compute environment names', () => {
  const names = fc.oneof(
    anyString(110),
    over([...ASCII_LETTERS, ...DIGITS, '_', '-', 'Ä', ' ', '/'], 0, 105),
    fc.uuid().map((u) => (u.length % 2 ? u.toUpperCase() : u)),
  );
  test('accepted exactly by the oracle; each refusal a fixed rule, true of the name', () => {
    fc.assert(
      fc.property(names, (name) => {
        const problem = entityNameProblem(name);
        expect(problem === null).toBe(entityOracle(name));
        if (problem === null) return;
        expect(entityRuleHolds(name, problem)).toBe(true);
        expect(() => assertEntityName(name)).toThrow(ValidationError);
      }),
      fuzz(3000),
    );
  });

  test('a non-ASCII letter is named as not ASCII', () => {
    expect(entityNameProblem('Äbc')).toBe(`${EntityNameRule.nonAscii}: character 1 is not`);
    expect(entityNameProblem('has space')).toBe(EntityNameRule.chars);
  });
});

// -- secret values -----------------------------------------------------------------------------

/** base64 as `base64` (76) or `openssl base64` (64) prints it: wrapped, with or without a final newline. */
const wrappedBase64 = fc
  .tuple(fc.uint8Array({ minLength: 49, maxLength: 400 }), fc.constantFrom(64, 76), fc.boolean(), fc.boolean())
  .filter(([bytes, width]) => Buffer.from(bytes).toString('base64').length > width)
  .map(([bytes, width, finalNewline, crlf]) => {
    const b64 = Buffer.from(bytes).toString('base64');
    const eol = crlf ? '\r\n' : '\n';
    return b64.replace(new RegExp(`(.{${width}})(?!$)`, 'g'), `$1${eol}`) + (finalNewline ? eol : '');
  });

const values = fc.oneof(
  { arbitrary: anyString(80), weight: 6 },
  { arbitrary: fc.string({ unit: edgeChar, maxLength: 12 }), weight: 2 },
  { arbitrary: wrappedBase64, weight: 1 },
  {
    arbitrary: fc.tuple(fc.integer({ min: 65_530, max: 65_540 }), fc.constantFrom('', 'é', '😀')).map(([n, c]) => 'v'.repeat(n - Buffer.byteLength(c)) + c),
    weight: 1,
  },
);

function valueRuleHolds(value: string, rule: string): boolean {
  const m = /^must be valid UTF-8 text; .* at character (\d+)$/s.exec(rule);
  if (m) {
    const chars = Array.from(value);
    const at = Number(m[1]);
    const isLone = (c: string | undefined) => c !== undefined && c.length === 1 && /[\ud800-\udfff]/.test(c);
    return rule.startsWith(SecretValueRule.utf8) && isLone(chars[at - 1]) && !chars.slice(0, at - 1).some(isLone);
  }
  switch (rule) {
    case SecretValueRule.empty:
      return value === '';
    case SecretValueRule.tooLarge:
      return Buffer.byteLength(value, 'utf8') > 65_536;
    case SecretValueRule.multiLine:
    case SecretValueRule.wrappedBase64:
      return /[\r\n]/.test(value);
    default:
      return false;
  }
}

describe('secret values', () => {
  test('accepted exactly when one line of well-formed text, 1 to 65,536 UTF-8 bytes; accepted values survive UTF-8 byte for byte', () => {
    fc.assert(
      fc.property(values, (value) => {
        const problem = secretValueProblem(value);
        const ok = value.length > 0 && Buffer.byteLength(value, 'utf8') <= 65_536 && !LONE.test(value) && !/[\r\n]/.test(value);
        expect(problem === null).toBe(ok);
        if (problem === null) {
          // What the vault seals and the secrets file holds: the UTF-8 bytes, decoded again.
          expect(Buffer.from(value, 'utf8').toString('utf8') === value).toBe(true);
          return;
        }
        expect(valueRuleHolds(value, problem)).toBe(true);
        expect(thrownNow(() => assertSecretValue(value))).toMatchObject({ name: 'ValidationError', field: 'value', rule: problem });
      }),
      fuzz(3000),
    );
  });

  test('base64 wrapped by `base64` or `openssl base64` is told to use `base64 -w0`, not to base64-encode', () => {
    fc.assert(
      fc.property(wrappedBase64, (value) => {
        const problem = secretValueProblem(value);
        expect(problem).toBe(SecretValueRule.wrappedBase64);
        expect(problem).toContain('base64 -w0');
        expect(problem).not.toMatch(/must be base64-encoded/);
      }),
      fuzz(300),
    );
  });

  test('multi-line text that is not base64 is still told to base64-encode', () => {
    const notBase64 = fc
      .tuple(anyString(40), fc.constantFrom('\n', '\r\n', '\r'), anyString(40))
      .map(([a, eol, b]) => `${a}${eol}${b}`)
      .filter((v) => !LONE.test(v) && Buffer.byteLength(v) <= 65_536 && /[^A-Za-z0-9+/=\r\n]/.test(v));
    fc.assert(
      fc.property(notBase64, (value) => {
        expect(secretValueProblem(value)).toBe(SecretValueRule.multiLine);
      }),
      fuzz(500),
    );
  });

  test('a lone surrogate (JSON "\\ud800") is refused naming its character, never stored as U+FFFD', () => {
    expect(secretValueProblem('ab\ud800cd')).toMatch(/^must be valid UTF-8 text; .* at character 3$/);
    expect(secretValueProblem('\ud83d\ude00x\udc00')).toMatch(/at character 3$/);
    fc.assert(
      fc.property(anyString(20), fc.constantFrom('\ud800', '\udbff', '\udc00', '\udfff'), anyString(20), (before, lone, after) => {
        fc.pre(!LONE.test(before) && !/[\ud800-\udbff]$/.test(before) && !/^[\udc00-\udfff]/.test(after) && before.length > 0);
        const value = before + lone + after;
        const problem = secretValueProblem(value);
        expect(problem).toBe(
          `${SecretValueRule.utf8}; it holds a lone UTF-16 surrogate (a \\uD800-\\uDFFF escape without its pair, which is no character) at character ${Array.from(before).length + 1}`,
        );
      }),
      fuzz(500),
    );
  });
});

describe('settings and credential field text', () => {
  test('storable exactly when it holds no NUL and no lone surrogate; the rule names the first such character', () => {
    fc.assert(
      fc.property(anyString(60), (text) => {
        const problem = storableTextProblem(text);
        expect(problem === null).toBe(!text.includes('\u0000') && !LONE.test(text));
        if (problem?.startsWith('must not contain a NUL')) {
          const at = Number(/at character (\d+)$/.exec(problem)![1]);
          expect(Array.from(text)[at - 1]).toBe('\u0000');
        }
      }),
      fuzz(500),
    );
  });
});

describe('run ids', () => {
  test('every accepted run id names a directory and a remote object safely', () => {
    fc.assert(
      fc.property(fc.oneof(anyString(70), over([...ASCII_LETTERS, ...DIGITS, '-', '_', '.', '/'], 0, 70)), (id) => {
        if (!RUN_ID_PATTERN.test(id)) return;
        expect(id.length).toBeLessThanOrEqual(64);
        expect(id).not.toMatch(/[./\\\s]|^-/);
      }),
      fuzz(2000),
    );
  });
});
