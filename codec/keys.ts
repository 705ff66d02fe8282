/**
 * The payload codec's keys: the current key encrypts, every key in the ring decrypts. Keys come from
 * BROKER_CODEC_KEY (base64, 32 bytes) or a 0600 key file created on first start; previous keys from
 * BROKER_CODEC_PREVIOUS_KEYS (comma-separated base64) so history written before a rotation stays
 * readable.
 */
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

export interface CodecKeyring {
  current: { id: string; key: Buffer };
  byId: Map<string, Buffer>;
}

export function codecKeyId(key: Buffer): string {
  return `codec-${createHash('sha256').update(key).digest('hex').slice(0, 16)}`;
}

export function decodeKey(text: string, source: string): Buffer {
  const trimmed = text.trim();
  const key = Buffer.from(trimmed, 'base64');
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(trimmed) || key.length !== 32) {
    throw new Error(`${source}: must be 32 bytes encoded as base64 (44 characters); generate one with: openssl rand -base64 32`);
  }
  return key;
}

export function keyringFrom(current: Buffer, previous: Buffer[] = []): CodecKeyring {
  const byId = new Map<string, Buffer>();
  for (const k of [current, ...previous]) byId.set(codecKeyId(k), k);
  return { current: { id: codecKeyId(current), key: current }, byId };
}

/** Read the key file, or create it (0600, directory 0700) when absent. */
function loadOrCreateKeyFile(file: string): Buffer {
  if (fs.existsSync(file)) {
    const mode = fs.statSync(file).mode & 0o777;
    if (mode & 0o077) throw new Error(`${file}: key file must not be readable by group or others (mode is ${mode.toString(8)}; run chmod 600)`);
    return decodeKey(fs.readFileSync(file, 'utf8'), file);
  }
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const key = randomBytes(32);
  fs.writeFileSync(file, key.toString('base64') + '\n', { mode: 0o600, flag: 'wx' });
  return key;
}

export function loadCodecKeyring(opts: { env?: NodeJS.ProcessEnv; dataDir: string }): CodecKeyring {
  const env = opts.env ?? process.env;
  const current = env.BROKER_CODEC_KEY
    ? decodeKey(env.BROKER_CODEC_KEY, 'BROKER_CODEC_KEY')
    : loadOrCreateKeyFile(env.BROKER_CODEC_KEY_FILE ?? path.join(opts.dataDir, 'codec.key'));
  const previous = (env.BROKER_CODEC_PREVIOUS_KEYS ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((s, i) => decodeKey(s, `BROKER_CODEC_PREVIOUS_KEYS[${i}]`));
  return keyringFrom(current, previous);
}
