import * as crypto from 'node:crypto';
import { aadFor, keyIdOf, rewrapKey, sealString, unsealString, type Kek } from '../../store/crypto';
import { VaultIntegrityError } from '../../domain/errors';

const kek = (): Kek => {
  const key = crypto.randomBytes(32);
  return { id: keyIdOf(key), key };
};

describe('envelope encryption', () => {
  const a = kek();
  const b = kek();
  const value = `value-${crypto.randomBytes(8).toString('hex')}`;

  test('round trip, and the row holds neither the value nor the data key in clear', () => {
    const s = sealString(a, aadFor.secret('id-1'), value);
    expect(s.kekId).toBe(a.id);
    expect(s.ciphertext.includes(Buffer.from(value))).toBe(false);
    expect(s.wrappedKey).toHaveLength(1 + 12 + 32 + 16);
    expect(unsealString(a, aadFor.secret('id-1'), s)).toBe(value);
  });

  test('two seals of one value differ (fresh data key and IV each time)', () => {
    const s1 = sealString(a, aadFor.secret('id-1'), value);
    const s2 = sealString(a, aadFor.secret('id-1'), value);
    expect(s1.ciphertext.equals(s2.ciphertext)).toBe(false);
    expect(s1.wrappedKey.equals(s2.wrappedKey)).toBe(false);
  });

  test.each([
    { reason: 'ciphertext moved to another record', mutate: (s: ReturnType<typeof sealString>) => s, aad: aadFor.secret('id-2') },
    { reason: 'secret sealed, read as a credential of the same id', mutate: (s: ReturnType<typeof sealString>) => s, aad: aadFor.credential('id-1') },
    {
      reason: 'one ciphertext byte flipped',
      mutate: (s: ReturnType<typeof sealString>) => {
        const c = Buffer.from(s.ciphertext);
        c[20]! ^= 1;
        return { ...s, ciphertext: c };
      },
      aad: aadFor.secret('id-1'),
    },
    {
      reason: 'one wrapped-key byte flipped',
      mutate: (s: ReturnType<typeof sealString>) => {
        const w = Buffer.from(s.wrappedKey);
        w[20]! ^= 1;
        return { ...s, wrappedKey: w };
      },
      aad: aadFor.secret('id-1'),
    },
    {
      reason: 'truncated ciphertext',
      mutate: (s: ReturnType<typeof sealString>) => ({ ...s, ciphertext: s.ciphertext.subarray(0, 10) }),
      aad: aadFor.secret('id-1'),
    },
  ])('refuses: $reason', ({ mutate, aad }) => {
    const sealed = mutate(sealString(a, aadFor.secret('id-1'), value));
    let err: unknown;
    try {
      unsealString(a, aad, sealed);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(VaultIntegrityError);
    expect(String((err as Error).message)).not.toContain(value);
  });

  test('the data key from one record does not open under another KEK', () => {
    const s = sealString(a, aadFor.secret('id-1'), value);
    expect(() => unsealString({ id: a.id, key: b.key }, aadFor.secret('id-1'), s)).toThrow(VaultIntegrityError);
  });

  test('rewrap moves the data key to the new KEK and leaves the value ciphertext alone', () => {
    const aad = aadFor.secret('id-1');
    const s = sealString(a, aad, value);
    const wrapped = rewrapKey(a, b, aad, s.wrappedKey);
    const moved = { kekId: b.id, wrappedKey: wrapped, ciphertext: s.ciphertext };
    expect(unsealString(b, aad, moved)).toBe(value);
    expect(() => unsealString({ id: b.id, key: a.key }, aad, moved)).toThrow(VaultIntegrityError);
    expect(() => rewrapKey(a, b, aadFor.secret('other'), s.wrappedKey)).toThrow(VaultIntegrityError);
  });

  test('key ids are derived from the key', () => {
    expect(a.id).toMatch(/^kek-[0-9a-f]{16}$/);
    expect(keyIdOf(Buffer.from(a.key))).toBe(a.id);
    expect(a.id).not.toBe(b.id);
    expect(() => keyIdOf(Buffer.alloc(16))).toThrow(/32 bytes/);
  });
});
