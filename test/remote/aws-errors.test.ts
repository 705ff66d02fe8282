import { REDACTED } from '../../domain/sanitize';
import { scrubAwsText as redact, sanitizeAwsError } from '../../remote/aws/errors';
import { ErrorType } from '../../domain/errors';

const SECRET_KEY = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY'; // 40 characters
const ACCESS_KEY = 'AKIAIOSFODNN7EXAMPLE';
const SESSION_TOKEN = 'IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLWVhc3QtMSJHMEUCIQD' + 'A'.repeat(120);
const SIGNATURE = 'fe5f80f77d5fa3beca038a248ff027d0445342fe2855ddc963176630326f1024';
const REQUEST_ID = 'c6104cbe-af31-11e0-8154-cbc7ccf896c7';
const VALUE = 'my-db-pa55word';

function sdkError(name: string, message: string, status = 400, extra: Record<string, unknown> = {}): Error {
  const e = new Error(message) as Error & Record<string, unknown>;
  e.name = name;
  e.$metadata = { httpStatusCode: status, requestId: REQUEST_ID, extendedRequestId: 'abc', attempts: 3 };
  e.$fault = 'client';
  e.$response = { body: `secret=${VALUE} key=${SECRET_KEY}`, headers: { authorization: `AWS4-HMAC-SHA256 Credential=${ACCESS_KEY}/...` } };
  Object.assign(e, extra);
  return e;
}

describe('redact', () => {
  test.each([
    { reason: 'a known secret value', text: `value was ${VALUE} here`, gone: VALUE },
    { reason: 'a secret access key (known)', text: `key ${SECRET_KEY}`, gone: SECRET_KEY, sensitive: [SECRET_KEY] },
    { reason: 'a secret access key (by shape)', text: `key ${SECRET_KEY} end`, gone: SECRET_KEY, sensitive: [] },
    { reason: 'an access key id', text: `The security token included in the request is invalid: ${ACCESS_KEY}`, gone: ACCESS_KEY },
    { reason: 'a temporary access key id', text: 'ASIAQWERTYUIOPASDFGH was used', gone: 'ASIAQWERTYUIOPASDFGH' },
    { reason: 'a session token', text: `X-Amz-Security-Token=${SESSION_TOKEN}&x=1`, gone: SESSION_TOKEN },
    { reason: 'a session token (bare)', text: `token ${SESSION_TOKEN}`, gone: SESSION_TOKEN, sensitive: [] },
    { reason: 'a SigV4 signature header', text: `Authorization: AWS4-HMAC-SHA256 Credential=${ACCESS_KEY}/20240101/us-east-1/secretsmanager/aws4_request, SignedHeaders=host, Signature=${SIGNATURE}`, gone: SIGNATURE },
    { reason: 'a presigned URL signature', text: `https://x/?X-Amz-Signature=${SIGNATURE}&X-Amz-Credential=${ACCESS_KEY}%2F2024`, gone: SIGNATURE },
    { reason: 'a bare signature', text: `The request signature we calculated does not match ${SIGNATURE}`, gone: SIGNATURE },
    { reason: 'a request id', text: `RequestId: ${REQUEST_ID}`, gone: REQUEST_ID },
    { reason: 'a request id (JSON)', text: `{"requestId":"${REQUEST_ID}"}`, gone: REQUEST_ID },
  ])('strips $reason', ({ text, gone, sensitive }) => {
    const out = redact(text, sensitive ?? [VALUE, SECRET_KEY]);
    expect(out).not.toContain(gone);
    expect(out).toContain(REDACTED);
  });

  test('keeps what people need: ARNs, secret names, actions', () => {
    const text =
      'User: arn:aws:iam::123456789012:user/broker is not authorized to perform: secretsmanager:CreateSecret on resource: tower-run1/DB_PASSWORD';
    expect(redact(text, [VALUE])).toBe(text);
  });

  test('a value that contains another sensitive string is removed whole', () => {
    expect(redact('x abcdefgh-longer y', ['abcdefgh', 'abcdefgh-longer'])).toBe(`x ${REDACTED} y`);
  });

  test('caps long messages', () => {
    expect(redact('word '.repeat(500)).length).toBeLessThanOrEqual(601);
  });
});

describe('sanitizeAwsError', () => {
  test.each([
    { reason: 'AccessDenied (JSON)', err: sdkError('AccessDeniedException', 'User: arn:aws:iam::1:user/b is not authorized'), type: ErrorType.PermissionDenied },
    { reason: 'AccessDenied (query)', err: sdkError('AccessDenied', 'not authorized', 403), type: ErrorType.PermissionDenied },
    { reason: 'throttling (JSON)', err: sdkError('ThrottlingException', 'Rate exceeded'), type: ErrorType.Throttled },
    { reason: 'throttling (query)', err: sdkError('Throttling', 'Rate exceeded'), type: ErrorType.Throttled },
    { reason: 'HTTP 429', err: sdkError('SomethingElse', 'slow down', 429), type: ErrorType.Throttled },
    { reason: 'unknown access key', err: sdkError('UnrecognizedClientException', `The security token included in the request is invalid ${ACCESS_KEY}`), type: ErrorType.AuthenticationFailed },
    { reason: 'bad signature', err: sdkError('InvalidSignatureException', `The request signature we calculated does not match. ${SIGNATURE}`), type: ErrorType.AuthenticationFailed },
    { reason: 'expired token', err: sdkError('ExpiredTokenException', 'The security token included in the request is expired'), type: ErrorType.AuthenticationFailed },
    { reason: 'validation', err: sdkError('InvalidParameterException', `bad parameter ${VALUE}`), type: ErrorType.InvalidInput },
    { reason: 'connection refused', err: Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED', name: 'Error' }), type: ErrorType.Connection },
    { reason: 'HTTP 503', err: sdkError('ServiceUnavailable', 'try later', 503), type: ErrorType.Connection },
    { reason: 'other', err: sdkError('LimitExceededException', 'too many versions'), type: 'AwsServiceError' },
  ])('$reason → $type', ({ err, type }) => {
    const out = sanitizeAwsError(err, { service: 'secretsmanager', operation: 'CreateSecret', target: 'tower-r/NAME', sensitive: [VALUE, SECRET_KEY] });
    expect(out.name).toBe(type);
    expect(out).not.toBe(err);
    expect(out.message).toMatch(/^aws secretsmanager:CreateSecret on tower-r\/NAME failed: /);
    const everything = JSON.stringify({ ...out, message: out.message, stack: out.stack, cause: (out as Error & { cause?: unknown }).cause });
    for (const s of [VALUE, SECRET_KEY, ACCESS_KEY, SIGNATURE, REQUEST_ID]) expect(everything).not.toContain(s);
    expect(Object.keys(out)).not.toEqual(expect.arrayContaining(['$metadata']));
    expect((out as unknown as Record<string, unknown>).$response).toBeUndefined();
  });

  test('a deserialization failure does not echo the response body', () => {
    const err = sdkError('Error', `Deserialization error: to see the raw response... <html>${VALUE}</html>`, 500);
    const out = sanitizeAwsError(err, { service: 'iam', operation: 'SimulatePrincipalPolicy' });
    expect(out.message).not.toContain(VALUE);
    expect(out.message).toContain('could not be parsed');
  });

  test('keeps the AWS code and HTTP status as facts', () => {
    const out = sanitizeAwsError(sdkError('ThrottlingException', 'Rate exceeded'), { service: 'secretsmanager', operation: 'DeleteSecret' });
    expect(out).toMatchObject({ awsCode: 'ThrottlingException', httpStatus: 400 });
    expect(out.message).toBe('aws secretsmanager:DeleteSecret failed: ThrottlingException (HTTP 400): Rate exceeded');
  });
});
