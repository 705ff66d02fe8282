/**
 * The blackwell-systems Google Secret Manager emulator (server-dual: gRPC + REST) on free loopback
 * ports, optionally in IAM_MODE=strict behind its IAM emulator loaded with a policy YAML from
 * test/fixtures/. Installed by scripts/test-deps.d/40-gcp-emulator.sh.
 *
 * Note: both emulators listen on every interface (":port"); they have no bind-address flag.
 */
import { JWT } from 'google-auth-library';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { SecretManagerServiceClient } from '@google-cloud/secret-manager';
import { freePort, spawnServer, waitForPort, type ServerProcess } from './process';
import { GO_BIN, tool } from './tools';

export interface GcpEmulator {
  /** What TargetDeps.endpoints.gcp takes. */
  endpoint: { apiEndpoint: string; port: number; insecure: true };
  grpcPort: number;
  httpPort: number;
  /** The IAM emulator's gRPC address (host:port), in strict mode. */
  iamAddress?: string;
  /** A Secret Manager client for assertions (closed by stop()); pass `as(principal)` per call in strict mode. */
  client(): SecretManagerServiceClient;
  /** Call options that send `principal` as x-emulator-principal. */
  as(principal: string): { otherArgs: { headers: Record<string, string> } };
  /** Both emulators' output so far. */
  output(): string;
  stop(): Promise<void>;
}

export interface GcpEmulatorOptions {
  /** Start the IAM emulator with this policy file and the Secret Manager emulator in IAM_MODE=strict. */
  strictIamPolicy?: string;
}

export const FIXTURES = path.join(__dirname, '..', 'fixtures');

/** Credentials that satisfy the client library offline (the emulator ignores them). */
// Never used to fetch a token: the emulator is reached over an insecure channel.
const DUMMY_AUTH = new JWT({ email: 'test@emulator.invalid', key: 'unused' });

export async function startGcpEmulator(opts: GcpEmulatorOptions = {}): Promise<GcpEmulator> {
  const serverDual = tool('server-dual', GO_BIN);
  const procs: ServerProcess[] = [];
  const clients: SecretManagerServiceClient[] = [];
  const env: NodeJS.ProcessEnv = { ...process.env, GCP_MOCK_LOG_LEVEL: 'info' };
  delete env.IAM_MODE;
  delete env.IAM_EMULATOR_HOST;
  delete env.IAM_TRACE_OUTPUT;
  let iamAddress: string | undefined;
  try {
    if (opts.strictIamPolicy) {
      if (!fs.existsSync(opts.strictIamPolicy)) throw new Error(`no IAM policy file at ${opts.strictIamPolicy}`);
      const iamBin = tool('gcp-iam-emulator', GO_BIN);
      const iamPort = await freePort();
      const iamHttpPort = await freePort();
      const iam = spawnServer(iamBin, ['--port', String(iamPort), '--http-port', String(iamHttpPort), '--config', opts.strictIamPolicy], { env });
      procs.push(iam);
      await waitForPort(iamPort, 30_000).catch((e) => {
        throw new Error(`${(e as Error).message}; IAM emulator said: ${iam.output().slice(-2000)}`);
      });
      iamAddress = `127.0.0.1:${iamPort}`;
      env.IAM_MODE = 'strict';
      env.IAM_EMULATOR_HOST = iamAddress;
    }
    const grpcPort = await freePort();
    const httpPort = await freePort();
    const sm = spawnServer(serverDual, ['--grpc-port', String(grpcPort), '--http-port', String(httpPort)], { env });
    procs.push(sm);
    await waitForPort(grpcPort, 30_000).catch((e) => {
      throw new Error(`${(e as Error).message}; emulator said: ${sm.output().slice(-2000)}`);
    });
    const endpoint = { apiEndpoint: '127.0.0.1', port: grpcPort, insecure: true as const };
    const as = (principal: string) => ({ otherArgs: { headers: { 'x-emulator-principal': principal } } });
    return {
      endpoint,
      grpcPort,
      httpPort,
      iamAddress,
      client() {
        const c = new SecretManagerServiceClient({
          apiEndpoint: endpoint.apiEndpoint,
          port: endpoint.port,
          sslCreds: grpc.credentials.createInsecure(),
          authClient: DUMMY_AUTH,
          projectId: 'unused',
        });
        clients.push(c);
        return c;
      },
      as,
      output: () => procs.map((p) => p.output()).join('\n'),
      async stop() {
        await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
        for (const p of procs.reverse()) await p.stop();
      },
    };
  } catch (err) {
    for (const p of procs.reverse()) await p.stop();
    throw err;
  }
}
