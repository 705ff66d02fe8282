/** `secret-broker workspaces ...`: create and list workspaces. */
import type { Command } from 'commander';
import type { CliContext } from '../context';
import { json, table } from '../format';

export function addWorkspaceCommands(program: Command, ctx: CliContext): void {
  const { client, asJson, out } = ctx;
  const workspaces = program.command('workspaces').description('create and list workspaces');
  workspaces
    .command('create')
    .description('create a workspace')
    .argument('<name>', 'workspace name: letters, digits, dashes, underscores')
    .addHelpText('after', '\nExample:\n  secret-broker workspaces create genomics')
    .action(async (name: string, _o, cmd: Command) => {
      const ws = await client(cmd).createWorkspace(name);
      out(asJson(cmd) ? json(ws) : `created workspace ${ws.name} (id ${ws.id})\n`);
    });
  workspaces
    .command('list')
    .description('list workspaces')
    .addHelpText('after', '\nExample:\n  secret-broker workspaces list')
    .action(async (_o, cmd: Command) => {
      const list = await client(cmd).listWorkspaces();
      out(asJson(cmd) ? json(list) : table(['NAME', 'ID', 'CREATED'], list.map((w) => [w.name, w.id, w.createdAt])));
    });
}
