/**
 * Loaded by path in the workflow sandbox and by the client: error messages and stack traces travel
 * as encoded payloads, so the codec encrypts them too.
 */
import { DefaultFailureConverter } from '@temporalio/common';

export const failureConverter = new DefaultFailureConverter({ encodeCommonAttributes: true });
