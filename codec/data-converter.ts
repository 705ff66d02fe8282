/** The one data converter the worker, the client and the codec endpoint share. */
import type { DataConverter } from '@temporalio/common';
import { EncryptionCodec } from './encryption-codec';
import type { CodecKeyring } from './keys';

export const FAILURE_CONVERTER_PATH = require.resolve('./failure-converter');

export function createDataConverter(keyring: CodecKeyring): DataConverter {
  return {
    failureConverterPath: FAILURE_CONVERTER_PATH,
    payloadCodecs: [new EncryptionCodec(keyring)],
  };
}

export { EncryptionCodec } from './encryption-codec';
export * from './keys';
