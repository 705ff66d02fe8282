/** hpc compute environment settings: what is accepted, how it is normalised, each refusal naming its field. */
import { platformSpec } from '../../platforms';

const FP = 'SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s';
const base = { host: 'login.hpc.example.org', user: 'alice', hostKeyFingerprint: FP, workDir: '/shared/scratch/broker' };
const parse = (config: Record<string, unknown>) => platformSpec('hpc').parseConfig(config);

describe('hpc compute environment settings', () => {
  test('needs an ssh credential', () => {
    expect(platformSpec('hpc').credentialKind).toBe('ssh');
  });

  test('port defaults to 22; workDir is normalised; a padded fingerprint and an IPv6 literal are accepted', () => {
    expect(parse(base)).toEqual({ ...base, port: 22 });
    expect(parse({ ...base, port: 2222, workDir: '/shared//scratch/./broker/', maxConnections: 8 })).toEqual({ ...base, port: 2222, maxConnections: 8 });
    expect(parse({ ...base, hostKeyFingerprint: `${FP}=`, host: '[::1]', port: '2200' })).toEqual({ ...base, host: '::1', port: 2200 });
  });

  test.each([
    { reason: 'no host', config: { ...base, host: undefined }, field: 'config.host' },
    { reason: 'a host with a space', config: { ...base, host: 'login node' }, field: 'config.host' },
    { reason: 'a port out of range', config: { ...base, port: 70000 }, field: 'config.port' },
    { reason: 'a fractional port', config: { ...base, port: 22.5 }, field: 'config.port' },
    { reason: 'no user', config: { ...base, user: '' }, field: 'config.user' },
    { reason: 'a user name with a shell metacharacter', config: { ...base, user: 'alice;rm' }, field: 'config.user' },
    { reason: 'no host key fingerprint (pinning is required)', config: { ...base, hostKeyFingerprint: undefined }, field: 'config.hostKeyFingerprint' },
    { reason: 'an MD5 fingerprint', config: { ...base, hostKeyFingerprint: 'MD5:16:27:ac:a5:76:28:2d:36:63:1b:56:4d:eb:df:a6:48' }, field: 'config.hostKeyFingerprint' },
    { reason: 'a fingerprint of the wrong length', config: { ...base, hostKeyFingerprint: 'SHA256:abc' }, field: 'config.hostKeyFingerprint' },
    { reason: 'a relative workDir', config: { ...base, workDir: 'scratch/broker' }, field: 'config.workDir' },
    { reason: 'the root directory as workDir', config: { ...base, workDir: '//' }, field: 'config.workDir' },
    { reason: 'maxConnections of 0', config: { ...base, maxConnections: 0 }, field: 'config.maxConnections' },
    { reason: 'an unknown setting', config: { ...base, password: 'x' }, field: 'config.password' },
  ])('refuses $reason', ({ config, field }) => {
    const clean = Object.fromEntries(Object.entries(config).filter(([, v]) => v !== undefined));
    expect(() => parse(clean)).toThrow(expect.objectContaining({ name: 'ValidationError', field }));
  });
});
