/**
 * `secret-broker tokens ...`, `members ...`, `audit ...`, `whoami` and `config show`: who calls
 * the broker, in which roles, and what they did.
 */
import { Option, type Command } from 'commander';
import { ROLES } from '../../domain/access';
import type { AuditRecord } from '../api-client';
import { workspaceOption, type CliContext } from '../context';
import { json, keyValues, shellQuote, table } from '../format';
import { UsageError } from '../io';

function auditLine(r: AuditRecord): (string | number | undefined)[] {
  // What the call named: its target and the names of its body (never a value: the API records none).
  const target = Object.entries({ ...r.target, ...r.detail })
    .map(([k, v]) => `${k}=${Array.isArray(v) ? v.join(',') : String(v)}`)
    .join(' ');
  return [r.seq, r.at, r.actor ? `${r.actor.kind}:${r.actor.name}` : `(${r.via})`, r.action, r.workspace ?? r.workspaceId, target, `${r.outcome}${r.status ? ` ${r.status}` : ''}${r.code ? ` ${r.code}` : ''}`];
}

export function addAccessCommands(program: Command, ctx: CliContext): void {
  const { client, asJson, out, settings } = ctx;

  // ---- tokens ----
  const tokens = program.command('tokens').description('make, list and revoke API tokens (a token is shown once, when made)');
  tokens
    .command('create')
    .description('make an API token: for yourself, or (broker administrators) for a user or service')
    .option('--user <name>', 'for this user')
    .option('--service <name>', 'for this service identity')
    .option('--name <name>', 'what the token is for (default "token")')
    .option('--expires-in <duration>', 'its life: 90s, 15m, 12h, 30d, at most 365d (default 90d)')
    .option('--env', 'print only "export BROKER_TOKEN=..." (for eval)')
    .addHelpText(
      'after',
      `
The token is printed once and stored only as a hash: keep it in a secret store or a 0600 file
(BROKER_TOKEN_FILE), never in shell history.

Examples:
  secret-broker tokens create --user alice --name laptop --expires-in 30d
  eval "$(secret-broker tokens create --user alice --env)"      # this shell now acts as alice
  secret-broker tokens create --service launcher --name launch-service > launcher.token`,
    )
    .action(async (o: { user?: string; service?: string; name?: string; expiresIn?: string; env?: boolean }, cmd: Command) => {
      if (o.env && asJson(cmd)) throw new UsageError('give either --env or --json, not both');
      if (o.user !== undefined && o.service !== undefined) throw new UsageError('give either --user or --service, not both');
      const made = await client(cmd).createToken({
        ...(o.user ? { user: o.user } : {}),
        ...(o.service ? { service: o.service } : {}),
        ...(o.name ? { name: o.name } : {}),
        ...(o.expiresIn ? { expiresIn: o.expiresIn } : {}),
      });
      if (asJson(cmd)) out(json(made));
      else if (o.env) out(`export BROKER_TOKEN=${shellQuote(made.token)}\n`);
      else {
        out(`${made.token}\n`);
        ctx.io.stderr.write(
          `token ${made.meta.id} for ${made.meta.principal.kind} ${made.meta.principal.name}, expires ${made.meta.expiresAt}: shown this once; use it with BROKER_TOKEN or BROKER_TOKEN_FILE\n`,
        );
      }
    });
  tokens
    .command('list')
    .description('list your tokens (broker administrators: anyone\u2019s); never their text')
    .option('--user <name>', "this user's tokens")
    .option('--service <name>', "this service's tokens")
    .option('--all', 'every token')
    .addHelpText('after', '\nExamples:\n  secret-broker tokens list\n  secret-broker tokens list --service launcher')
    .action(async (o: { user?: string; service?: string; all?: boolean }, cmd: Command) => {
      const list = await client(cmd).listTokens(o);
      out(
        asJson(cmd)
          ? json(list)
          : table(
              ['ID', 'NAME', 'IDENTITY', 'CREATED', 'EXPIRES', 'LAST USED', 'REVOKED'],
              list.map((t) => [t.id, t.name, `${t.principal.kind}:${t.principal.name}`, t.createdAt, t.expiresAt, t.lastUsedAt, t.revokedAt]),
            ),
      );
    });
  tokens
    .command('revoke')
    .description('revoke a token: it stops working at once')
    .argument('<id>', 'token id (tokens list)')
    .addHelpText('after', '\nExample:\n  secret-broker tokens revoke 3f1c...')
    .action(async (id: string, _o, cmd: Command) => {
      const t = await client(cmd).revokeToken(id);
      out(asJson(cmd) ? json(t) : `revoked token ${t.id} (${t.name}) of ${t.principal.kind} ${t.principal.name}\n`);
    });

  // ---- members ----
  const members = program.command('members').description("a workspace's members and their roles (view, launch, connect, maintainer, admin, owner)");
  members
    .command('list')
    .description("list the workspace's members")
    .addOption(workspaceOption(ctx))
    .addHelpText('after', '\nExample:\n  secret-broker members list --workspace genomics')
    .action(async (o: { workspace: string }, cmd: Command) => {
      const list = await client(cmd).listMembers(o.workspace);
      out(asJson(cmd) ? json(list) : table(['NAME', 'KIND', 'ROLE', 'ON BEHALF', 'SINCE'], list.map((m) => [m.principal.name, m.principal.kind, m.role, m.onBehalf ? 'yes' : '', m.createdAt])));
    });
  members
    .command('set')
    .alias('add')
    .description("add a user or service to the workspace, or change its role")
    .argument('<name>', 'user or service name')
    .addOption(workspaceOption(ctx))
    .addOption(new Option('--role <role>', 'the role').choices([...ROLES]).makeOptionMandatory())
    .option('--on-behalf', 'a service only: may launch on behalf of the workspace\u2019s members (the launch service)')
    .addHelpText(
      'after',
      `
Examples:
  secret-broker members set alice --workspace genomics --role maintainer
  secret-broker members set launcher --workspace genomics --role launch --on-behalf`,
    )
    .action(async (name: string, o: { workspace: string; role: string; onBehalf?: boolean }, cmd: Command) => {
      const m = await client(cmd).setMember(o.workspace, name, { role: o.role, ...(o.onBehalf ? { onBehalf: true } : {}) });
      out(asJson(cmd) ? json(m) : `${m.principal.kind} ${m.principal.name} is ${m.role} of workspace ${o.workspace}${m.onBehalf ? ', launching on behalf of its members' : ''}\n`);
    });
  members
    .command('remove')
    .description('remove a member (a workspace keeps at least one owner)')
    .argument('<name>', 'user or service name')
    .addOption(workspaceOption(ctx))
    .addHelpText('after', '\nExample:\n  secret-broker members remove bob --workspace genomics')
    .action(async (name: string, o: { workspace: string }, cmd: Command) => {
      await client(cmd).removeMember(o.workspace, name);
      out(asJson(cmd) ? json({ removed: { member: name, workspace: o.workspace } }) : `removed ${name} from workspace ${o.workspace}\n`);
    });

  // ---- audit ----
  const audit = program.command('audit').description('the audit trail: who did what, where, when, and the outcome (never a value)');
  audit
    .command('list')
    .description('list audit records, oldest first (broker administrators: all; workspace admins: their workspaces)')
    .option('--workspace <name>', 'records of this workspace')
    .option('--identity <name>', 'records of this user or service')
    .option('--since <time>', 'records at or after this time (2026-01-31T00:00:00Z)')
    .option('--until <time>', 'records at or before this time')
    .option('--action <operation>', 'records of this operation (setWorkspaceSecret, launchRun ...)')
    .addOption(new Option('--outcome <outcome>', 'records with this outcome').choices(['ok', 'refused', 'failed']))
    .option('--limit <n>', 'at most this many records (default 100)', (v) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 1) throw new UsageError('--limit: must be a whole number of at least 1');
      return n;
    })
    .addHelpText(
      'after',
      `
Examples:
  secret-broker audit list --workspace genomics --since 2026-01-01T00:00:00Z
  secret-broker audit list --identity launcher --outcome refused
  secret-broker -o json audit list --action launchRun --limit 1000`,
    )
    .action(async (o: { workspace?: string; identity?: string; since?: string; until?: string; action?: string; outcome?: string; limit?: number }, cmd: Command) => {
      const api = client(cmd);
      const limit = o.limit ?? 100;
      const records: AuditRecord[] = [];
      let cursor: string | undefined;
      do {
        const page = await api.auditPage({
          workspace: o.workspace,
          identity: o.identity,
          since: o.since,
          until: o.until,
          action: o.action,
          outcome: o.outcome,
          limit: String(Math.min(1000, limit - records.length)),
          cursor,
        });
        records.push(...page.records);
        cursor = page.nextCursor;
      } while (cursor && records.length < limit);
      out(asJson(cmd) ? json(records) : table(['SEQ', 'AT', 'WHO', 'ACTION', 'WORKSPACE', 'TARGET', 'OUTCOME'], records.map(auditLine)));
    });
  audit
    .command('verify')
    .description("walk the audit trail's hash chain (broker administrators); exit 1 if a record was changed")
    .addHelpText('after', '\nExample:\n  secret-broker audit verify')
    .action(async (_o, cmd: Command) => {
      const v = await client(cmd).verifyAudit();
      if (asJson(cmd)) out(json(v));
      else if (v.ok) out(`audit trail intact: ${v.records} records, head ${v.head ?? '(empty)'}\n`);
      if (!v.ok) throw new Error(`audit trail broken at record ${v.brokenAt!.seq}: ${v.brokenAt!.reason} (the ${v.records} records before it check out)`);
    });

  // ---- whoami, config ----
  program
    .command('whoami')
    .description('who the token is, how it authenticated, and its roles')
    .addHelpText('after', '\nExample:\n  secret-broker whoami')
    .action(async (_o, cmd: Command) => {
      const me = await client(cmd).me();
      if (asJson(cmd)) return void out(json(me));
      out(
        keyValues([
          ['identity', `${me.identity.kind} ${me.identity.name} (id ${me.identity.id})`],
          ['broker admin', me.identity.brokerAdmin ? 'yes' : 'no'],
          ['via', me.via],
          ['token', me.token ? `${me.token.id}, expires ${me.token.expiresAt}` : undefined],
          ['token from', settings.token?.source],
        ]) + (me.memberships.length ? table(['WORKSPACE', 'ROLE', 'ON BEHALF'], me.memberships.map((m) => [m.workspace.name, m.role, m.onBehalf ? 'yes' : ''])) : 'no workspace roles\n'),
      );
    });
  const config = program.command('config').description('where the CLI finds the API, its token and the default workspace');
  config
    .command('show')
    .description('show the settings in effect and where each comes from (never the token itself)')
    .addHelpText('after', '\nExample:\n  secret-broker config show')
    .action((_o, cmd: Command) => {
      const g = cmd.optsWithGlobals<{ api?: string }>();
      const shown = {
        api: g.api ? { url: g.api, source: '--api' } : (settings.api ?? { url: 'http://127.0.0.1:8787', source: 'default' }),
        token: settings.token ? { source: settings.token.source } : null,
        workspace: settings.workspace ?? null,
        caFile: settings.caFile ?? null,
        configFile: settings.configFile,
        problems: settings.problems,
      };
      out(
        asJson(cmd)
          ? json(shown)
          : keyValues([
              ['api', `${shown.api.url} (${shown.api.source})`],
              ['token', shown.token ? `from ${shown.token.source}` : 'none (set BROKER_TOKEN or BROKER_TOKEN_FILE)'],
              ['workspace', shown.workspace ? `${shown.workspace.name} (${shown.workspace.source})` : 'none'],
              ['ca file', shown.caFile ?? undefined],
              ['config file', shown.configFile],
              ['problems', shown.problems.join('; ') || undefined],
            ]),
      );
    });
}
