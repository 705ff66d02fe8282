/**
 * "Try it on this machine": `scripts/try.sh aws|gcp|hpc` starts the peer the tests use (moto for AWS
 * Secrets Manager, IAM and STS; the Google Secret Manager and IAM emulators; an OpenSSH sshd as a login
 * node), then the broker exactly as `make start` runs it, pointed at that peer, and creates a workspace,
 * a user, a secret, a credential and a compute environment through the CLI. It launches one run, shows
 * what landed in the peer, completes the run, shows it deleted, and leaves everything running for you
 * (Ctrl-C stops it all). Nothing here needs a cloud account: the peers run on loopback.
 *
 * test/integration/try.test.ts runs the same recipe once (`once`, on free ports) for each platform.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { freePort, waitForPort } from '../harness/process';

const run = promisify(execFile);
const ROOT = path.resolve(__dirname, '..', '..');
// Compiled by scripts/try.sh into .data/try-build/test/try/: the repository is three levels further up.
const REPO = fs.existsSync(path.join(ROOT, 'package.json')) ? ROOT : path.resolve(ROOT, '..', '..');
const CLI = path.join(REPO, 'bin', 'secret-broker');

export type Platform = 'aws' | 'gcp' | 'hpc';

/** A running peer, and how a compute environment reaches it. */
interface Peer {
  what: string;
  /** Broker settings that point the worker at the peer. */
  env: Record<string, string>;
  credential: { kind: string; fields: Record<string, unknown> };
  config: Record<string, unknown>;
  /** What the broker has in the peer for this run, one line each. */
  list(runId: string): Promise<string[]>;
  /** A command that shows the same thing from a shell. */
  howToLook: string;
  stop(): Promise<void>;
}

async function awsPeer(): Promise<Peer> {
  const { startMoto, adminIam, adminSecrets, setUpAccount } = await import('../harness/moto');
  const region = 'eu-west-1';
  const moto = await startMoto();
  const iam = adminIam(moto.endpoint);
  const sm = adminSecrets(moto.endpoint, region);
  // The account as docs/aws.md sets it up: a broker user and its key, an execution role, a head-job role.
  const account = await setUpAccount(iam, region);
  iam.destroy();
  return {
    what: `moto (AWS Secrets Manager, IAM, STS) on ${moto.endpoint}`,
    env: { BROKER_AWS_ENDPOINT: moto.endpoint },
    credential: { kind: 'aws', fields: { accessKeyId: account.broker.accessKeyId, secretAccessKey: account.broker.secretAccessKey } },
    config: { region, headJobRoleArn: account.headJobRoleArn, executionRoleArn: account.executionRoleArn },
    async list(runId) {
      const r = await sm.listSecrets({ Filters: [{ Key: 'name', Values: [`tower-${runId}/`] }] });
      return (r.SecretList ?? []).map((s) => `${s.Name}  (tags: ${(s.Tags ?? []).map((t) => `${t.Key}=${t.Value}`).join(', ')})`);
    },
    howToLook: `curl -s ${moto.endpoint}/moto-api/data.json | python3 -m json.tool | grep -A3 '"name": "tower-'`,
    async stop() {
      sm.destroy();
      await moto.stop();
    },
  };
}

async function gcpPeer(): Promise<Peer> {
  const { FIXTURES, startGcpEmulator } = await import('../harness/gcp-emulator');
  const { serviceAccountEmail, serviceAccountKeyText, TEST_PROJECT } = await import('../fixtures/gcp-service-account');
  // Strict IAM, as the policy docs/gcp.md asks for: the broker's service account administers secrets,
  // the Batch service account reads them.
  const emu = await startGcpEmulator({ strictIamPolicy: path.join(FIXTURES, 'gcp-iam-policy.yaml') });
  const observer = `serviceAccount:${serviceAccountEmail('observer')}`;
  return {
    what: `the Google Secret Manager emulator on ${emu.endpoint.apiEndpoint}:${emu.endpoint.port} (gRPC, strict IAM from test/fixtures/gcp-iam-policy.yaml)`,
    env: { BROKER_GCP_ENDPOINT: `${emu.endpoint.apiEndpoint}:${emu.endpoint.port}`, BROKER_GCP_INSECURE: '1' },
    credential: { kind: 'google', fields: { serviceAccountKey: serviceAccountKeyText({ name: 'broker' }) } },
    config: { location: 'europe-west4', batchServiceAccount: serviceAccountEmail('batch') },
    async list(runId) {
      const [all] = await emu.client().listSecrets({ parent: `projects/${TEST_PROJECT}`, pageSize: 1000 }, { ...emu.as(observer), autoPaginate: false });
      return all.filter((s) => s.name!.split('/').pop()!.startsWith(`tower-${runId}-`)).map((s) => `${s.name}  (labels: ${JSON.stringify(s.labels ?? {})})`);
    },
    howToLook: `curl -s -H 'x-emulator-principal: ${observer}' http://127.0.0.1:${emu.httpPort}/v1/projects/${TEST_PROJECT}/secrets`,
    stop: () => emu.stop(),
  };
}

async function hpcPeer(): Promise<Peer> {
  const { startSshd } = await import('../harness/sshd');
  const sshd = await startSshd();
  const workDir = sshd.makeWorkDir();
  return {
    what: `an OpenSSH sshd on ${sshd.host}:${sshd.port} as the cluster's login node (user ${sshd.user}, host key ${sshd.hostKeyFingerprint})`,
    env: {},
    credential: { kind: 'ssh', fields: { privateKey: sshd.keys.ed25519.privateKey, passphrase: sshd.keys.ed25519.passphrase } },
    config: { host: sshd.host, port: sshd.port, user: sshd.user, hostKeyFingerprint: sshd.hostKeyFingerprint, workDir },
    async list(runId) {
      const r = sshd.runAsUser('find', [workDir, '-path', `*tower-${runId}*`, '-printf', '%M %u %p\\n']);
      return r.stdout.trim().split('\n').filter(Boolean).sort();
    },
    howToLook: `ls -la ${workDir}`,
    stop: () => sshd.close(),
  };
}

const PEERS: Record<Platform, () => Promise<Peer>> = { aws: awsPeer, gcp: gcpPeer, hpc: hpcPeer };

export interface TryOptions {
  /** Run the demo once and stop everything (the test); otherwise keep running until Ctrl-C. */
  once?: boolean;
  /** Free ports for Temporal, the UI, the API and /metrics instead of make start's defaults. */
  freePorts?: boolean;
  /** Do not build lib/ again (the tests: make test built it, and other suites are reading it). */
  skipBuild?: boolean;
  /** Where the lines go (stdout by default). */
  say?: (line: string) => void;
}

export interface TryResult {
  pushed: string[];
  left: string[];
  transcript: string;
}

export async function tryPlatform(platform: Platform, opts: TryOptions = {}): Promise<TryResult> {
  let transcript = '';
  const say = (line = '') => {
    transcript += `${line}\n`;
    (opts.say ?? ((l: string) => process.stdout.write(`${l}\n`)))(line);
  };
  const dataDir = path.join(REPO, '.data', `try-${platform}`);
  fs.rmSync(dataDir, { recursive: true, force: true });
  fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const ports = opts.freePorts
    ? { TEMPORAL_PORT: await freePort(), TEMPORAL_UI_PORT: await freePort(), BROKER_API_PORT: await freePort(), BROKER_METRICS_PORT: await freePort() }
    : { TEMPORAL_PORT: 7233, TEMPORAL_UI_PORT: 8233, BROKER_API_PORT: 8787, BROKER_METRICS_PORT: 9464 };
  const api = `http://127.0.0.1:${ports.BROKER_API_PORT}`;

  say(`[try ${platform}] starting ${platform === 'hpc' ? 'sshd' : 'the emulator'} ...`);
  const peer = await PEERS[platform]();
  let broker: ChildProcess | undefined;
  const stopAll = async () => {
    if (broker && broker.exitCode === null) {
      const exited = new Promise((r) => broker!.once('exit', r));
      process.kill(-broker.pid!, 'SIGINT');
      await exited;
    }
    await peer.stop();
  };
  try {
    say(`[try ${platform}] ${peer.what}`);
    say(`[try ${platform}] starting the broker as make start does (Temporal dev server, PGlite vault in ${path.relative(REPO, dataDir)}), pointed at it:`);
    for (const [k, v] of Object.entries(peer.env)) say(`    ${k}=${v}`);
    const log = fs.openSync(path.join(dataDir, 'start.log'), 'a');
    broker = spawn(path.join(REPO, 'scripts', 'start.sh'), [], {
      cwd: REPO,
      detached: true,
      stdio: ['ignore', log, log],
      env: {
        ...process.env,
        ...peer.env,
        ...Object.fromEntries(Object.entries(ports).map(([k, v]) => [k, String(v)])),
        BROKER_DATA_DIR: dataDir,
        ...(opts.skipBuild ? { SECRET_BROKER_SKIP_BUILD: '1' } : {}),
      },
    });
    fs.closeSync(log);
    const exited = new Promise<never>((_, reject) =>
      broker!.once('exit', (code) => reject(new Error(`make start stopped (exit ${code}); see ${path.join(dataDir, 'start.log')}`))),
    );
    exited.catch(() => undefined); // awaited below; a late exit is reported there
    await Promise.race([waitForPort(ports.BROKER_API_PORT, 300_000), exited]);

    // The CLI acts as the administrator this broker bootstrapped (its token in the data directory).
    const cliEnv = { BROKER_DATA_DIR: dataDir, BROKER_TOKEN: undefined, BROKER_TOKEN_FILE: undefined };
    const sb = async (args: string[], stdin?: string) => {
      say(`$ secret-broker ${args.join(' ')}${stdin !== undefined ? '   (value on stdin)' : ''}`);
      const p = run(CLI, args, { env: { ...process.env, ...cliEnv, BROKER_API_URL: api } });
      if (stdin !== undefined) p.child.stdin?.end(stdin);
      const { stdout } = await p;
      for (const l of stdout.trim().split('\n')) if (l) say(`  ${l}`);
      return stdout;
    };
    const credFile = path.join(dataDir, `${platform}-credential.json`);
    fs.writeFileSync(credFile, JSON.stringify(peer.credential.fields), { mode: 0o600 });
    const value = `try-${platform}-${randomBytes(6).toString('hex')}`;
    const runId = `try${platform}${randomBytes(3).toString('hex')}`;

    say();
    await sb(['workspaces', 'create', 'trying']);
    await sb(['secrets', 'set', 'DEMO_TOKEN', '--workspace', 'trying'], value);
    await sb(['credentials', 'create', `${platform}-cred`, '--workspace', 'trying', '--kind', peer.credential.kind, '--fields-file', credFile]);
    await sb(['compute-envs', 'create', `${platform}-ce`, '--workspace', 'trying', '--platform', platform, '--config', JSON.stringify(peer.config), '--credential', `${platform}-cred`]);
    await sb(['runs', 'launch', '--workspace', 'trying', '--compute-env', `${platform}-ce`, '--secret', 'DEMO_TOKEN', '--run-id', runId]);
    const pushed = await peer.list(runId);
    say(`[try ${platform}] in ${platform === 'hpc' ? 'the work directory' : 'the secret manager'} now:`);
    for (const l of pushed) say(`    ${l}`);
    await sb(['runs', 'complete', runId, '--status', 'succeeded']);
    const deadline = Date.now() + 60_000;
    let left = pushed;
    while (Date.now() < deadline) {
      left = await peer.list(runId);
      const status = await run(CLI, ['--json', 'runs', 'status', runId], { env: { ...process.env, ...cliEnv, BROKER_API_URL: api } }).then((r) => JSON.parse(r.stdout) as { phase: string });
      if (!left.length && status.phase === 'deleted') break;
      await new Promise((r) => setTimeout(r, 500));
    }
    await sb(['runs', 'status', runId]);
    say(`[try ${platform}] left behind: ${left.length ? left.join(', ') : 'nothing'}`);
    say();
    say(opts.once ? 'Would keep running (once: stopping now):' : 'Still running (Ctrl-C stops it all):');
    say(`  Temporal Web UI  http://127.0.0.1:${ports.TEMPORAL_UI_PORT}   (query: BrokerRunId = "${runId}")`);
    say(`  Broker API       ${api}   (export BROKER_API_URL=${api} BROKER_DATA_DIR=${path.relative(REPO, dataDir)}; ./bin/secret-broker --help)`);
    say(`  Metrics          http://127.0.0.1:${ports.BROKER_METRICS_PORT}/metrics`);
    say(`  Look yourself    ${peer.howToLook}`);
    say(`  Launch another   ./bin/secret-broker runs launch --workspace trying --compute-env ${platform}-ce --secret DEMO_TOKEN --run-id mine1`);
    say(`  Logs             ${path.relative(REPO, dataDir)}/broker.log (JSON lines), ${path.relative(REPO, dataDir)}/start.log`);
    if (!opts.once) {
      await new Promise<void>((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
        exited.catch(() => resolve());
      });
    }
    return { pushed, left, transcript };
  } finally {
    say(`[try ${platform}] stopping`);
    await stopAll();
  }
}

if (require.main === module) {
  const platform = process.argv[2] as Platform;
  if (!(platform in PEERS)) {
    process.stderr.write('usage: scripts/try.sh aws|gcp|hpc\n');
    process.exit(2);
  }
  tryPlatform(platform).then(
    () => process.exit(0),
    (err: Error) => {
      process.stderr.write(`[try ${platform}] ${err.message}\n`);
      process.exit(1);
    },
  );
}
