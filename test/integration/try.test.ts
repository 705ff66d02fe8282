/**
 * The "try it on this machine" recipes of docs/aws.md, docs/gcp.md and docs/hpc.md, as
 * `scripts/try.sh <platform>` runs them (test/try/main.ts), once each on free ports: the peer starts,
 * `make start`'s script starts the broker pointed at it, the CLI creates the compute environment, and
 * a run's secret lands in the peer and is deleted when the run completes.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { GO_BIN } from '../harness/tools';
import { tryPlatform, type Platform } from '../try/main';

jest.setTimeout(300_000);

const gcpInstalled = ['server-dual', 'gcp-iam-emulator'].every((b) => fs.existsSync(path.join(GO_BIN, b)));

const cases: { platform: Platform; pushed: RegExp }[] = [
  { platform: 'aws', pushed: /^tower-tryaws[0-9a-f]{6}\/DEMO_TOKEN {2}\(tags: .*secret-broker:managed=true/ },
  { platform: 'hpc', pushed: /tower-tryhpc[0-9a-f]{6}\/store\.json$/ },
  ...(gcpInstalled ? [{ platform: 'gcp' as const, pushed: /secrets\/tower-trygcp[0-9a-f]{6}-DEMO_TOKEN {2}\(labels: / }] : []),
];

test.each(cases)('scripts/try.sh $platform: a run pushes to the peer and deletes when it completes', async ({ platform, pushed }) => {
  const r = await tryPlatform(platform, { once: true, freePorts: true, skipBuild: true, say: () => undefined });
  expect(r.pushed.some((l) => pushed.test(l))).toBe(true);
  expect(r.left).toEqual([]);
  expect(r.transcript).toMatch(/phase:\s+deleted/);
  expect(r.transcript).toContain(`$ secret-broker compute-envs create ${platform}-ce --workspace trying --platform ${platform}`);
  // The value went in on stdin and never came back out.
  expect(r.transcript).not.toMatch(/try-(aws|gcp|hpc)-[0-9a-f]{12}/);
});
