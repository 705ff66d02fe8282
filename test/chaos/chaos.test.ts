/**
 * `make chaos` (CHAOS=full) and its short version in `make test`: real servers, the broker worker
 * as a separate process, a few dozen (short) or a few hundred (full) runs on local, hpc, aws and
 * gcp, while the worker is SIGKILLed and restarted, the dev server is restarted, cloud calls are
 * throttled, failed, reset and slowed, sshd is stopped and runs are terminated. Prints one table
 * and writes it, with the details, to .data/chaos/. Fails when a must-be-0 figure is not 0.
 *
 * CHAOS_SEED repeats a run's plan (the timing of the servers is the machine's); CHAOS_KEEP=1 keeps
 * its data directory (the dev server's database, every log).
 */
import { randomInt } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { chaosConfig } from './config';
import { figures, table, violations } from './report';
import { runChaos } from './scenario';
import { REPO_ROOT as ROOT } from '../harness/paths';

const cfg = chaosConfig();
const seed = process.env.CHAOS_SEED ? Number(process.env.CHAOS_SEED) : randomInt(1, 2 ** 31);
// The scenario stops itself by its deadline; jest's bound is a little later, for the teardown.
jest.setTimeout(cfg.deadlineMs + 3 * 60_000);

test(`chaos (${cfg.mode}): ${cfg.runs} runs, ${cfg.workerKills} worker kills, nothing left behind, nothing lost, no plaintext`, async () => {
  const started = Date.now();
  const log = (line: string) => process.stderr.write(`[chaos +${Math.round((Date.now() - started) / 1000)}s] ${line}\n`);
  log(`${cfg.mode}: seed ${seed} (CHAOS_SEED=${seed} repeats the plan)`);
  const res = await runChaos(cfg, seed, log);
  const f = figures(res);
  const text = table(f);
  const outDir = path.join(ROOT, '.data', 'chaos');
  fs.mkdirSync(outDir, { recursive: true });
  const json = JSON.stringify({ ...f, violations: violations(f) }, null, 2);
  for (const name of ['latest', cfg.mode]) {
    fs.writeFileSync(path.join(outDir, `${name}.json`), json);
    fs.writeFileSync(path.join(outDir, `${name}.md`), text);
  }
  process.stderr.write(`\n${text}\n(written to ${path.relative(process.cwd(), outDir)}/${cfg.mode}.json and .md)\n`);
  expect(violations(f)).toEqual([]);
});
