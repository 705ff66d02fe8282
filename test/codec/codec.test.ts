/** The payload codec and the Web UI's codec endpoint. */
import { randomBytes } from 'node:crypto';
import Fastify from 'fastify';
import { defaultPayloadConverter } from '@temporalio/common';
import { registerCodecEndpoint } from '../../api/codec-endpoint';
import { EncryptionCodec, keyringFrom, codecKeyId, decodeKey } from '../../codec/data-converter';

const key1 = randomBytes(32);
const key2 = randomBytes(32);

describe('EncryptionCodec', () => {
  test('round-trips, writes the key id, and hides the plaintext', async () => {
    const codec = new EncryptionCodec(keyringFrom(key1));
    const payload = defaultPayloadConverter.toPayload({ name: 'DB_PASSWORD', note: 'plaintext-marker-123' });
    const [enc] = await codec.encode([payload]);
    expect(Buffer.from(enc.metadata!['encryption-key-id']).toString()).toBe(codecKeyId(key1));
    expect(Buffer.from(enc.data!).toString('latin1')).not.toContain('plaintext-marker-123');
    const [dec] = await codec.decode([enc]);
    expect(defaultPayloadConverter.fromPayload(dec)).toEqual({ name: 'DB_PASSWORD', note: 'plaintext-marker-123' });
  });

  test('after a key rotation, old payloads decode with the previous key; without it they are refused by key id', async () => {
    const [old] = await new EncryptionCodec(keyringFrom(key1)).encode([defaultPayloadConverter.toPayload('x')]);
    await expect(new EncryptionCodec(keyringFrom(key2, [key1])).decode([old])).resolves.toHaveLength(1);
    await expect(new EncryptionCodec(keyringFrom(key2)).decode([old])).rejects.toThrow(codecKeyId(key1));
  });

  test('a tampered payload fails authentication', async () => {
    const [enc] = await new EncryptionCodec(keyringFrom(key1)).encode([defaultPayloadConverter.toPayload('x')]);
    enc.data![20] ^= 1;
    await expect(new EncryptionCodec(keyringFrom(key1)).decode([enc])).rejects.toThrow();
  });

  test.each([
    { reason: 'not base64', text: 'not a key!' },
    { reason: '16 bytes', text: randomBytes(16).toString('base64') },
  ])('a bad key is refused: $reason', ({ text }) => {
    expect(() => decodeKey(text, 'BROKER_CODEC_KEY')).toThrow(/BROKER_CODEC_KEY: must be 32 bytes/);
  });
});

describe('codec endpoint', () => {
  const codec = new EncryptionCodec(keyringFrom(key1));
  const app = Fastify();
  registerCodecEndpoint(app, { codec, allowedOrigins: ['http://127.0.0.1:8233'] });
  afterAll(() => app.close());
  let base: string;
  beforeAll(async () => {
    base = await app.listen({ host: '127.0.0.1', port: 0 });
  });

  const b64 = (u: Uint8Array) => Buffer.from(u).toString('base64');

  test('decodes what the worker encoded, with CORS for the Web UI only', async () => {
    const [enc] = await codec.encode([defaultPayloadConverter.toPayload({ phase: 'ready' })]);
    const body = { payloads: [{ metadata: Object.fromEntries(Object.entries(enc.metadata!).map(([k, v]) => [k, b64(v)])), data: b64(enc.data!) }] };
    const res = await fetch(`${base}/codec/decode`, { method: 'POST', headers: { 'content-type': 'application/json', origin: 'http://127.0.0.1:8233' }, body: JSON.stringify(body) });
    expect(res.status).toBe(200);
    expect(res.headers.get('access-control-allow-origin')).toBe('http://127.0.0.1:8233');
    const out = (await res.json()) as { payloads: { data: string }[] };
    expect(JSON.parse(Buffer.from(out.payloads[0].data, 'base64').toString())).toEqual({ phase: 'ready' });

    const other = await fetch(`${base}/codec/decode`, { method: 'POST', headers: { 'content-type': 'application/json', origin: 'http://evil.example' }, body: JSON.stringify(body) });
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
  });

  test('a malformed body or a foreign key is a 400 naming payloads', async () => {
    const bad = await fetch(`${base}/codec/decode`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ nope: 1 }) });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { field: string }).field).toBe('payloads');
    const [foreign] = await new EncryptionCodec(keyringFrom(key2)).encode([defaultPayloadConverter.toPayload(1)]);
    const body = { payloads: [{ metadata: Object.fromEntries(Object.entries(foreign.metadata!).map(([k, v]) => [k, b64(v)])), data: b64(foreign.data!) }] };
    const res = await fetch(`${base}/codec/decode`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    expect(res.status).toBe(400);
  });
});
