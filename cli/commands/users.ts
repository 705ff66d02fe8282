/** `secret-broker users ...`: create and list users. */
import type { Command } from 'commander';
import type { CliContext } from '../context';
import { json, table } from '../format';

export function addUserCommands(program: Command, ctx: CliContext): void {
  const { client, asJson, out } = ctx;
  const users = program.command('users').description('create and list users');
  users
    .command('create')
    .description('create a user')
    .argument('<name>', 'user name: letters, digits, dashes, underscores')
    .addHelpText('after', '\nExample:\n  secret-broker users create alice')
    .action(async (name: string, _o, cmd: Command) => {
      const u = await client(cmd).createUser(name);
      out(asJson(cmd) ? json(u) : `created user ${u.name} (id ${u.id})\n`);
    });
  users
    .command('list')
    .description('list users')
    .addHelpText('after', '\nExample:\n  secret-broker users list')
    .action(async (_o, cmd: Command) => {
      const list = await client(cmd).listUsers();
      out(asJson(cmd) ? json(list) : table(['NAME', 'ID', 'CREATED'], list.map((u) => [u.name, u.id, u.createdAt])));
    });
}
