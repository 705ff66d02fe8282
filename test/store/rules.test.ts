import { ValidationError } from '../../domain/errors';
import {
  assertEntityName,
  assertSecretName,
  assertSecretValue,
  entityNameProblem,
  NEXTFLOW_SECRET_NAME,
  secretNameProblem,
  secretValueProblem,
} from '../../domain/rules';

describe('secret names', () => {
  test.each([
    { reason: 'letters', name: 'TOKEN' },
    { reason: 'two characters', name: 'AB' },
    { reason: 'leading single underscore', name: '_a' },
    { reason: 'single underscores between words', name: 'my_api_token' },
    { reason: 'digits after the first character', name: 'a1_2b' },
    { reason: 'trailing underscore', name: 'TOKEN_' },
    { reason: '50 characters', name: 'A'.repeat(50) },
  ])('accepts $reason', ({ name }) => {
    expect(secretNameProblem(name)).toBeNull();
    expect(NEXTFLOW_SECRET_NAME.test(name)).toBe(true);
  });

  test.each([
    { reason: 'hyphen', name: 'MY-TOKEN', rule: /shell variables/ },
    { reason: 'leading digit', name: '1TOKEN', rule: /start with a letter or "_"/ },
    { reason: 'leading double underscore', name: '__x', rule: /must not start with "__"/ },
    { reason: 'double underscore inside', name: 'MY__TOKEN', rule: /must not contain "__"/ },
    { reason: 'one character', name: 'A', rule: /2 to 50 characters/ },
    { reason: 'empty', name: '', rule: /2 to 50 characters/ },
    { reason: '51 characters', name: 'A'.repeat(51), rule: /2 to 50 characters/ },
    { reason: 'space', name: 'MY TOKEN', rule: /letters, digits and single underscores/ },
    { reason: 'dot', name: 'my.token', rule: /letters, digits and single underscores/ },
    { reason: 'non-ASCII letter', name: 'tokén', rule: /letters, digits and single underscores/ },
    { reason: 'not a string', name: 42, rule: /must be a string/ },
  ])('refuses $reason', ({ name, rule }) => {
    expect(secretNameProblem(name)).toMatch(rule);
    let err: unknown;
    try {
      assertSecretName(name);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ValidationError);
    expect((err as ValidationError).field).toBe('name');
    expect((err as ValidationError).rule).toMatch(rule);
  });

  test('the pattern Nextflow uses lets "__x" through; the extra rule stops it', () => {
    expect(NEXTFLOW_SECRET_NAME.test('__x')).toBe(true);
    expect(secretNameProblem('__x')).not.toBeNull();
  });
});

describe('secret values', () => {
  const marker = 'S3cr3t-marker-value';
  test.each([
    { reason: 'one byte', value: 'x' },
    { reason: '65,536 bytes', value: 'v'.repeat(65_536) },
    { reason: 'tabs and spaces', value: `a\tb c ${marker}` },
    { reason: 'base64 of a multi-line value', value: Buffer.from('line1\nline2').toString('base64') },
  ])('accepts $reason', ({ value }) => {
    expect(secretValueProblem(value)).toBeNull();
  });

  test.each([
    { reason: 'empty', value: '', rule: /must not be empty/ },
    { reason: '65,537 bytes', value: marker + 'v'.repeat(65_537 - marker.length), rule: /at most 65,536 bytes/ },
    { reason: '65,538 bytes in 32,769 characters', value: 'é'.repeat(32_769), rule: /at most 65,536 bytes/ },
    { reason: 'line feed', value: `${marker}\nmore`, rule: /multi-line secrets must be base64-encoded/ },
    { reason: 'carriage return', value: `${marker}\rmore`, rule: /multi-line secrets must be base64-encoded/ },
    { reason: 'not a string', value: 12345, rule: /must be a string/ },
  ])('refuses $reason, without repeating the value', ({ value, rule }) => {
    let err: unknown;
    try {
      assertSecretValue(value);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ValidationError);
    expect((err as ValidationError).field).toBe('value');
    expect((err as Error).message).toMatch(rule);
    expect((err as Error).message).not.toContain(marker);
  });
});

describe('workspace, user, credential and compute environment names', () => {
  test.each([
    { reason: 'letters', name: 'team' },
    { reason: 'dashes and underscores', name: 'my-registry_creds' },
    { reason: 'one character', name: 'a' },
    { reason: '100 characters', name: 'n'.repeat(100) },
  ])('accepts $reason', ({ name }) => expect(entityNameProblem(name)).toBeNull());

  test.each([
    { reason: 'empty', name: '', rule: /1 to 100/ },
    { reason: '101 characters', name: 'n'.repeat(101), rule: /1 to 100/ },
    { reason: 'space', name: 'my team', rule: /letters, digits, dashes and underscores/ },
    { reason: 'slash', name: 'a/b', rule: /letters, digits, dashes and underscores/ },
    { reason: 'dot', name: 'a.b', rule: /letters, digits, dashes and underscores/ },
    { reason: 'shaped like an id', name: '0f8fad5b-d9cb-469f-a165-70867728950e', rule: /form of an id/ },
    { reason: 'not a string', name: null, rule: /must be a string/ },
  ])('refuses $reason', ({ name, rule }) => {
    expect(() => assertEntityName(name)).toThrow(ValidationError);
    expect(entityNameProblem(name)).toMatch(rule);
  });
});
