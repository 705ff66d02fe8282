/**
 * `secret-broker users ...` and `services ...`: the identities that call the broker (persons, and
 * services such as the launch service), their broker administration and OIDC subjects. Broker
 * administrators manage them; anyone may list (and sees themselves only).
 */
import type { Command } from 'commander';
import type { Identity } from '../api-client';
import type { CliContext } from '../context';
import { json, table } from '../format';
import { UsageError } from '../io';

function flags(i: Identity): string {
  return [i.brokerAdmin ? 'broker-admin' : '', i.oidc ? `oidc:${i.oidc.subject}` : ''].filter(Boolean).join(' ');
}

function addIdentityGroup(program: Command, ctx: CliContext, kind: 'user' | 'service'): void {
  const { client, asJson, out } = ctx;
  const plural = kind === 'user' ? 'users' : 'services';
  const example = kind === 'user' ? 'alice' : 'launcher';
  const group = program
    .command(plural)
    .description(kind === 'user' ? 'create, list and update users (persons)' : 'create, list and update service identities (the launch service, CI)');
  group
    .command('create')
    .description(`create a ${kind}${kind === 'service' ? ' identity' : ''}`)
    .argument('<name>', `${kind} name: letters, digits, dashes, underscores (unique across users and services)`)
    .option('--broker-admin', 'make it a broker administrator (manages users, services, workspaces, tokens, the vault key)')
    .option('--oidc-subject <sub>', 'map the OIDC subject ("sub" claim) of the configured issuer to it')
    .addHelpText(
      'after',
      `\nExamples:\n  secret-broker ${plural} create ${example}\n  secret-broker ${plural} create ${example} --oidc-subject 00u1abcd2EFGH3ijk4x7` +
        (kind === 'service' ? `\n  secret-broker members set ${example} --workspace genomics --role launch --on-behalf` : `\n  secret-broker tokens create --user ${example}`),
    )
    .action(async (name: string, o: { brokerAdmin?: boolean; oidcSubject?: string }, cmd: Command) => {
      const api = client(cmd);
      const opts = { ...(o.brokerAdmin ? { brokerAdmin: true } : {}), ...(o.oidcSubject ? { oidcSubject: o.oidcSubject } : {}) };
      const u = kind === 'user' ? await api.createUser(name, opts) : await api.createService(name, opts);
      out(asJson(cmd) ? json(u) : `created ${kind} ${u.name} (id ${u.id})${u.brokerAdmin ? ', a broker administrator' : ''}\n`);
    });
  group
    .command('list')
    .description(`list ${plural}`)
    .addHelpText('after', `\nExample:\n  secret-broker ${plural} list`)
    .action(async (_o, cmd: Command) => {
      const api = client(cmd);
      const list = kind === 'user' ? await api.listUsers() : await api.listServices();
      out(asJson(cmd) ? json(list) : table(['NAME', 'ID', 'FLAGS', 'CREATED'], list.map((u) => [u.name, u.id, flags(u), u.createdAt])));
    });
  group
    .command('update')
    .description(`grant or withdraw broker administration; map or unmap the ${kind}'s OIDC subject`)
    .argument('<name>', `${kind} name or id`)
    .option('--broker-admin', 'make it a broker administrator')
    .option('--no-broker-admin', 'withdraw broker administration (the broker keeps at least one)')
    .option('--oidc-subject <sub>', 'map this OIDC subject to it')
    .option('--no-oidc-subject', 'remove its OIDC subject')
    .addHelpText('after', `\nExamples:\n  secret-broker ${plural} update ${example} --broker-admin\n  secret-broker ${plural} update ${example} --no-oidc-subject`)
    .action(async (name: string, o: { brokerAdmin?: boolean; oidcSubject?: string | false }, cmd: Command) => {
      const patch = {
        ...(o.brokerAdmin === undefined ? {} : { brokerAdmin: o.brokerAdmin }),
        ...(o.oidcSubject === undefined ? {} : { oidcSubject: o.oidcSubject === false ? null : o.oidcSubject }),
      };
      if (!Object.keys(patch).length) throw new UsageError('give --broker-admin, --no-broker-admin, --oidc-subject SUB or --no-oidc-subject');
      const u = await client(cmd).updateIdentity(kind, name, patch);
      out(asJson(cmd) ? json(u) : `updated ${kind} ${u.name}: ${flags(u) || 'no broker administration, no OIDC subject'}\n`);
    });
}

export function addUserCommands(program: Command, ctx: CliContext): void {
  addIdentityGroup(program, ctx, 'user');
  addIdentityGroup(program, ctx, 'service');
}
