/**
 * `secret-broker vault ...`: `key-rotation` rotates the vault's master key through the running
 * broker (its worker re-wraps every data key of its own vault; workflows/vault-key.ts), follows a
 * rotation, and manages its schedule (`rotate-vault-master-key`); `rewrap` re-wraps directly on the
 * database, with the broker stopped. Only key ids, counts and times are printed.
 */
import type { Command } from 'commander';
import type { VaultKeyRotationState, VaultKeyScheduleInfo } from '../api-client';
import type { CliContext } from '../context';
import { CLOSED_EXECUTIONS, json, keyValues, schedulePairs } from '../format';
import { UsageError } from '../io';

function describeState(s: VaultKeyRotationState): string {
  return keyValues([
    ['rotation', s.workflowId],
    ['state', s.execution],
    ['phase', s.status?.phase],
    ['new key', s.result?.newKeyId],
    ['old keys', s.result ? s.result.oldKeyIds.join(', ') || '(none)' : undefined],
    ['re-wrapped', s.result ? String(s.result.rewrapped) : undefined],
    ['already done', s.result ? String(s.result.skipped) : undefined],
    ['next', s.result?.nextSteps.length ? s.result.nextSteps.join('; ') : undefined],
    ['error', s.error],
  ]);
}

function describeSchedule(s: VaultKeyScheduleInfo): string {
  return keyValues([
    ['schedule', s.scheduleId],
    ...schedulePairs(s),
  ]);
}

export function addVaultCommands(program: Command, ctx: CliContext): void {
  const vault = program.command('vault').description('the vault: rotate its master key through the broker (key-rotation), or re-wrap directly on the database (rewrap)');
  addKeyRotationCommands(vault, ctx);
  addRewrapCommand(vault, ctx);
}

/** `key-rotation` under the `vault` group. */
function addKeyRotationCommands(vault: Command, ctx: CliContext): void {
  const { client, asJson, out } = ctx;
  const group = vault
    .command('key-rotation')
    .description("rotate the vault's master key through the running broker (resumable; visible in the Temporal Web UI)")
    .addHelpText(
      'after',
      `
Key file mode (master.key): the broker makes the new key, re-wraps every data key, keeps the old key
as master.key.retired-<id> and moves the new one into master.key. Environment mode
(BROKER_MASTER_KEY): set BROKER_MASTER_KEY_NEXT to a new key on every broker and restart them
first; afterwards set BROKER_MASTER_KEY to it and unset BROKER_MASTER_KEY_NEXT. Without it the
rotation is refused and says so. The broker with the embedded vault can rotate while it runs
(unlike "vault rewrap", which needs it stopped).

Examples:
  secret-broker vault key-rotation start --wait
  secret-broker vault key-rotation schedule create --every 90d`,
    );

  group
    .command('start')
    .description('rotate the master key now (one rotation at a time)')
    .option('--wait', 'wait for the rotation to end and print its result')
    .addHelpText('after', '\nExample:\n  secret-broker vault key-rotation start --wait')
    .action(async (o: { wait?: boolean }, cmd: Command) => {
      const api = client(cmd);
      const started = await api.startVaultKeyRotation();
      if (!o.wait) {
        out(asJson(cmd) ? json(started) : `vault master key rotation started: ${started.workflowId}\n`);
        return;
      }
      for (;;) {
        const st = await api.vaultKeyRotationState(started.workflowId);
        if (CLOSED_EXECUTIONS.has(st.execution)) {
          out(asJson(cmd) ? json(st) : describeState(st));
          if (st.execution !== 'COMPLETED') throw new Error(`vault master key rotation ${started.workflowId} ended ${st.execution}${st.error ? `: ${st.error}` : ''}`);
          return;
        }
        await new Promise((r) => setTimeout(r, ctx.pollMs ?? 1_000));
      }
    });

  group
    .command('status')
    .description("the latest rotation's state and result")
    .argument('[workflow-id]', 'the rotation workflow id (default vault-master-key-rotation)')
    .addHelpText('after', '\nExample:\n  secret-broker vault key-rotation status')
    .action(async (workflowId: string | undefined, _o, cmd: Command) => {
      const st = await client(cmd).vaultKeyRotationState(workflowId);
      out(asJson(cmd) ? json(st) : describeState(st));
    });

  const schedule = group.command('schedule').description('create, show, pause, unpause, trigger and delete the rotation schedule (rotate-vault-master-key)');
  schedule
    .command('create')
    .description('rotate the master key on a schedule (a firing is skipped while a rotation runs)')
    .option('--every <duration>', 'interval, at least 1h: 30d, 90d ...')
    .option('--cron <expr>', 'cron expression (UTC), instead of --every; repeat for several', (v: string, p: string[]) => [...p, v], [] as string[])
    .option('--paused', 'create the schedule paused')
    .option('--note <text>', 'a note shown with the schedule')
    .addHelpText('after', '\nExamples:\n  secret-broker vault key-rotation schedule create --every 90d\n  secret-broker vault key-rotation schedule create --cron "0 3 1 */3 *"')
    .action(async (o: { every?: string; cron: string[]; paused?: boolean; note?: string }, cmd: Command) => {
      if ((o.every === undefined) === (o.cron.length === 0)) throw new UsageError('give exactly one of --every and --cron');
      const info = await client(cmd).createVaultKeySchedule({
        ...(o.every ? { every: o.every } : { cron: o.cron }),
        ...(o.paused ? { paused: true } : {}),
        ...(o.note ? { note: o.note } : {}),
      });
      out(asJson(cmd) ? json(info) : describeSchedule(info));
    });
  schedule
    .command('show')
    .description("the schedule's spec, state, next and recent runs")
    .addHelpText('after', '\nExample:\n  secret-broker vault key-rotation schedule show')
    .action(async (_o, cmd: Command) => {
      const info = await client(cmd).vaultKeySchedule();
      out(asJson(cmd) ? json(info) : describeSchedule(info));
    });
  for (const action of ['pause', 'unpause'] as const) {
    schedule
      .command(action)
      .description(`${action} the schedule`)
      .option('--note <text>', 'why (shown with the schedule)')
      .addHelpText('after', `\nExample:\n  secret-broker vault key-rotation schedule ${action} --note 'change freeze'`)
      .action(async (o: { note?: string }, cmd: Command) => {
        await client(cmd).vaultKeyScheduleAction(action, o.note);
        out(asJson(cmd) ? json({ schedule: 'rotate-vault-master-key', [action === 'pause' ? 'paused' : 'unpaused']: true }) : `vault key rotation schedule: ${action}d\n`);
      });
  }
  schedule
    .command('trigger')
    .description('fire the schedule now (skipped if a rotation is running)')
    .addHelpText('after', '\nExample:\n  secret-broker vault key-rotation schedule trigger')
    .action(async (_o, cmd: Command) => {
      await client(cmd).vaultKeyScheduleAction('trigger');
      out(asJson(cmd) ? json({ schedule: 'rotate-vault-master-key', triggered: true }) : 'vault key rotation schedule: triggered\n');
    });
  schedule
    .command('delete')
    .description('delete the schedule (a rotation it started runs to its end)')
    .addHelpText('after', '\nExample:\n  secret-broker vault key-rotation schedule delete')
    .action(async (_o, cmd: Command) => {
      await client(cmd).deleteVaultKeySchedule();
      out(asJson(cmd) ? json({ schedule: 'rotate-vault-master-key', deleted: true }) : 'vault key rotation schedule: deleted\n');
    });
}

/** `rewrap` under the `vault` group: offline, on the vault's database itself. */
function addRewrapCommand(vault: Command, ctx: CliContext): void {
  const { io, asJson, out } = ctx;
  vault
    .command('rewrap')
    .description('re-wrap every data key under a new master key (resumable; values are not re-encrypted)')
    .option('--data-dir <dir>', 'broker data directory (env BROKER_DATA_DIR, default ./.data)')
    .option('--database-url <url>', 'PostgreSQL vault instead of the embedded one (env DATABASE_URL)')
    .option('--new-key-file <path>', 'the new master key (base64, 32 bytes, mode 0600); default: generate one')
    .addHelpText(
      'after',
      `
With the embedded vault (PGlite) stop the broker first: only one process may open it. With
PostgreSQL the rewrap runs beside live brokers. An interrupted rewrap resumes when run again.
In key-file mode the new key replaces master.key and the old one is kept as
master.key.retired-<id>; with BROKER_MASTER_KEY, follow the steps printed at the end.

Examples:
  secret-broker vault rewrap                                  # new random key, embedded vault in ./.data
  secret-broker vault rewrap --database-url postgres://... --new-key-file /secure/new.key`,
    )
    .action(async (o: { dataDir?: string; databaseUrl?: string; newKeyFile?: string }, cmd: Command) => {
      const { rewrapVault } = await import('../../store/rewrap');
      const path = await import('node:path');
      const result = await rewrapVault({
        dataDir: path.resolve(o.dataDir ?? io.env.BROKER_DATA_DIR ?? '.data'),
        databaseUrl: o.databaseUrl ?? (io.env.DATABASE_URL || undefined),
        env: io.env,
        ...(o.newKeyFile ? { newKeyFile: o.newKeyFile } : {}),
        onProgress: (p) => void io.stderr.write(`\rre-wrapped ${p.done}/${p.total}`),
      });
      io.stderr.write('\n');
      if (asJson(cmd)) return out(json(result));
      out(
        `re-wrapped ${result.rewrapped} data keys (${result.skipped} already done) under ${result.newKeyId}` +
          (result.keyFile ? `; key file ${result.keyFile}, old key kept as ${result.retiredKeyFile}` : '') +
          '\n' +
          result.nextSteps.map((s) => `next: ${s}\n`).join(''),
      );
    });
}
