/**
 * `secret-broker rotations ...`: rotate a credential's keys now, follow a rotation, and manage
 * rotation schedules. Only names, slots and times are printed; no key passes through the CLI.
 */
import { Option, type Command } from 'commander';
import type { RotationBody, RotationScheduleInfo, RotationState } from '../api-client';
import { CLOSED_EXECUTIONS, json, keyValues, schedulePairs, table } from '../format';
import { workspaceOption, type CliContext } from '../context';
import { UsageError } from '../io';

const KINDS = ['azure-batch-key', 'azure-storage-key', 'acr-token-password', 'aws-access-key'];

interface TargetOpts {
  workspace: string;
  kind: string;
  managementCredential?: string;
  resourceGroup?: string;
  registry?: string;
  token?: string;
  grace?: string;
  switchBack?: boolean;
}

function targetOptions(cmd: Command, ctx: CliContext): Command {
  return cmd
    .argument('<credential>', 'the credential whose key is rotated (name or id)')
    .addOption(workspaceOption(ctx, 'workspace of the credential'))
    .addOption(new Option('--kind <kind>', 'what is rotated').choices(KINDS).makeOptionMandatory())
    .option('--management-credential <name>', 'Azure: the azure-entra credential allowed to list and regenerate keys')
    .option('--resource-group <name>', 'Azure: resource group of the account or registry')
    .option('--registry <name>', 'acr-token-password: the registry (resource name)')
    .option('--token <name>', 'acr-token-password: the token whose passwords rotate')
    .option('--grace <duration>', 'how long the old key keeps working after the switch (90s, 15m, 12h; default 10m)')
    .option('--switch-back', 'end on the first slot again (step 5 of Azure\'s key rotation procedure; Azure keys only)');
}

function body(o: TargetOpts): RotationBody {
  return {
    kind: o.kind,
    ...(o.managementCredential ? { managementCredential: o.managementCredential } : {}),
    ...(o.resourceGroup ? { resourceGroup: o.resourceGroup } : {}),
    ...(o.registry ? { registryName: o.registry } : {}),
    ...(o.token ? { tokenName: o.token } : {}),
    ...(o.grace ? { grace: o.grace } : {}),
    ...(o.switchBack ? { switchBack: true } : {}),
  };
}

function describeState(s: RotationState): string {
  const st = s.status;
  const head = keyValues([
    ['rotation', s.workflowId],
    ['state', s.execution],
    ['account', st?.account],
    ['step', st?.step],
    ['from', st?.from ?? s.result?.from],
    ['to', st?.to ?? s.result?.to],
    ['now using', s.result?.final],
    ['grace ends', st?.graceEndsAt ? new Date(st.graceEndsAt).toISOString() : undefined],
    ['outcome', s.result?.outcome],
    ['reason', s.result?.reason],
    ['error', s.error],
  ]);
  const steps = st?.steps ?? s.result?.steps ?? [];
  return steps.length ? `${head}\n${table(['STEP', 'DONE AT', 'DETAIL'], steps.map((x) => [x.step, new Date(x.at).toISOString(), x.detail]))}` : head;
}

function describeSchedule(s: RotationScheduleInfo): string {
  return keyValues([
    ['schedule', s.scheduleId],
    ['credential', s.credentialId],
    ['kind', s.kind],
    ['account', s.label ?? s.account],
    ...schedulePairs(s),
  ]);
}

export function addRotationCommands(program: Command, ctx: CliContext): void {
  const { client, asJson, out } = ctx;
  const rotations = program.command('rotations').description("rotate credentials' keys without downtime, and schedule rotations");

  targetOptions(rotations.command('start').description('rotate a credential now: regenerate the unused key, switch to it, verify, wait the grace period, regenerate the old one'), ctx)
    .option('--wait', 'follow the rotation until it ends, printing each step')
    .addHelpText(
      'after',
      `
One rotation per account runs at a time. Steps: inspect, regenerate-spare, switch, verify, grace,
retire-old (and switch-back, verify-back with --switch-back). Follow it with "rotations status"
or in the Temporal Web UI (workflow credential-rotation-...).

Examples:
  secret-broker rotations start batch-keys --workspace genomics --kind azure-batch-key \\
    --management-credential azure-mgmt --resource-group rg-batch --grace 15m --wait`,
    )
    .action(async (credential: string, o: TargetOpts & { wait?: boolean }, cmd: Command) => {
      const api = client(cmd);
      const started = await api.startRotation(o.workspace, credential, body(o));
      if (!o.wait) {
        out(asJson(cmd) ? json(started) : `rotation of ${started.label} started: ${started.workflowId}\n`);
        return;
      }
      let seen = 0;
      for (;;) {
        const st = await api.rotationState(started.workflowId);
        const steps = st.status?.steps ?? st.result?.steps ?? [];
        if (!asJson(cmd)) for (const x of steps.slice(seen)) out(`${new Date(x.at).toISOString()}  ${x.step}${x.detail ? `  ${x.detail}` : ''}\n`);
        seen = Math.max(seen, steps.length);
        if (CLOSED_EXECUTIONS.has(st.execution)) {
          out(asJson(cmd) ? json(st) : describeState(st));
          if (st.execution !== 'COMPLETED') throw new Error(`rotation ${started.workflowId} ended ${st.execution}${st.error ? `: ${st.error}` : ''}`);
          return;
        }
        await new Promise((r) => setTimeout(r, ctx.pollMs ?? 1_000));
      }
    });

  rotations
    .command('status')
    .description("show a rotation's step, slots and history")
    .argument('<workflow-id>', 'the rotation workflow id (credential-rotation-...)')
    .addHelpText('after', "\nExample:\n  secret-broker rotations status 'credential-rotation-azure-batch-key:<subscription>:rg-batch:mybatch'")
    .action(async (workflowId: string, _o, cmd: Command) => {
      const st = await client(cmd).rotationState(workflowId);
      out(asJson(cmd) ? json(st) : describeState(st));
    });

  const schedules = rotations.command('schedules').description('create, list, show, pause, unpause, trigger and delete rotation schedules');
  targetOptions(schedules.command('create').description('rotate a credential on a schedule (one schedule per credential; a firing is skipped while a rotation of the account runs)'), ctx)
    .option('--every <duration>', 'interval, at least 1h: 12h, 30d ...')
    .option('--cron <expr>', 'cron expression (UTC), instead of --every; repeat for several', (v: string, p: string[]) => [...p, v], [] as string[])
    .option('--paused', 'create the schedule paused')
    .option('--note <text>', 'a note shown with the schedule')
    .addHelpText('after', '\nExample:\n  secret-broker rotations schedules create batch-keys --workspace genomics --kind azure-batch-key \\\n    --management-credential azure-mgmt --resource-group rg-batch --every 30d')
    .action(async (credential: string, o: TargetOpts & { every?: string; cron: string[]; paused?: boolean; note?: string }, cmd: Command) => {
      if ((o.every === undefined) === (o.cron.length === 0)) throw new UsageError('give exactly one of --every and --cron');
      const info = await client(cmd).createRotationSchedule(o.workspace, credential, {
        ...body(o),
        ...(o.every ? { every: o.every } : { cron: o.cron }),
        ...(o.paused ? { paused: true } : {}),
        ...(o.note ? { note: o.note } : {}),
      });
      out(asJson(cmd) ? json(info) : describeSchedule(info));
    });
  schedules
    .command('list')
    .description('every rotation schedule')
    .addHelpText('after', '\nExample:\n  secret-broker rotations schedules list')
    .action(async (_o, cmd: Command) => {
      const list = await client(cmd).listRotationSchedules();
      if (asJson(cmd)) return out(json(list));
      out(table(['SCHEDULE', 'KIND', 'ACCOUNT', 'SPEC', 'PAUSED', 'NEXT RUN'], list.map((s) => [s.scheduleId, s.kind, s.label ?? s.account, s.spec, s.paused ? 'yes' : 'no', s.nextRuns[0]])));
    });
  const one = (name: string, description: string) =>
    schedules
      .command(name)
      .description(description)
      .argument('<credential>', 'the credential the schedule rotates (name or id)')
      .addOption(workspaceOption(ctx, 'workspace of the credential'))
      .addHelpText('after', `\nExample:\n  secret-broker rotations schedules ${name} batch-keys --workspace genomics`);
  one('show', "a schedule's spec, state, next and recent runs").action(async (credential: string, o: { workspace: string }, cmd: Command) => {
    const info = await client(cmd).rotationSchedule(o.workspace, credential);
    out(asJson(cmd) ? json(info) : describeSchedule(info));
  });
  for (const action of ['pause', 'unpause'] as const) {
    one(action, `${action} a schedule`)
      .option('--note <text>', 'why (shown with the schedule)')
      .action(async (credential: string, o: { workspace: string; note?: string }, cmd: Command) => {
        await client(cmd).rotationScheduleAction(o.workspace, credential, action, o.note);
        out(asJson(cmd) ? json({ credential, [action === 'pause' ? 'paused' : 'unpaused']: true }) : `rotation schedule of ${credential}: ${action}d\n`);
      });
  }
  one('trigger', 'fire a schedule now (skipped if a rotation of the account is running)').action(async (credential: string, o: { workspace: string }, cmd: Command) => {
    await client(cmd).rotationScheduleAction(o.workspace, credential, 'trigger');
    out(asJson(cmd) ? json({ credential, triggered: true }) : `rotation schedule of ${credential}: triggered\n`);
  });
  one('delete', 'delete a schedule (a rotation it started runs to its end)').action(async (credential: string, o: { workspace: string }, cmd: Command) => {
    await client(cmd).deleteRotationSchedule(o.workspace, credential);
    out(asJson(cmd) ? json({ credential, deleted: true }) : `rotation schedule of ${credential}: deleted\n`);
  });
}
