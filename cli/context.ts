/**
 * What every command group gets from the program: the streams, the API client (address, token and
 * CA from cli/settings.ts), the output format (`-o text|json`, `--json`), the default workspace, and
 * the settings reader of `--config` / `--config-file`.
 */
import * as fs from 'node:fs';
import { Option, type Command } from 'commander';
import { BrokerApiClient, DEFAULT_API_URL } from './api-client';
import { type CliIo, UsageError, readJsonObject } from './io';
import { loadSettings, type CliSettings } from './settings';

export interface CliContext {
  io: CliIo;
  /** Where the API, the token and the default workspace come from. */
  settings: CliSettings;
  /** The API client for the global `--api` (else BROKER_API_URL, the config file, DEFAULT_API_URL), with the token. */
  client(cmd: Command): BrokerApiClient;
  /** True with `-o json`, `--output json` or `--json`. */
  asJson(cmd: Command): boolean;
  /** Write to stdout. */
  out(s: string): void;
  /** Settings from --config JSON or --config-file PATH (not both); undefined when neither is given. */
  readConfig(o: { config?: string; configFile?: string }): Promise<Record<string, unknown> | undefined>;
  /** The default workspace (BROKER_WORKSPACE, config "workspace"), for `--workspace` options. */
  defaultWorkspace: string | undefined;
  /** Wait between polls of --wait (tests shorten it). */
  pollMs?: number;
}

interface GlobalOpts {
  api?: string;
  json?: boolean;
  output?: string;
}

export function createCliContext(io: CliIo): CliContext {
  const globals = (cmd: Command): GlobalOpts => cmd.optsWithGlobals<GlobalOpts>();
  const settings = loadSettings(io.env);
  return {
    io,
    settings,
    defaultWorkspace: settings.workspace?.name,
    client: (cmd) => {
      const url = globals(cmd).api ?? settings.api?.url ?? DEFAULT_API_URL;
      for (const p of settings.problems) throw new UsageError(p);
      let ca: string | undefined;
      if (settings.caFile) {
        try {
          ca = fs.readFileSync(settings.caFile, 'utf8');
        } catch (err) {
          throw new UsageError(`BROKER_CA_FILE: cannot read ${settings.caFile} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
        }
      }
      try {
        return new BrokerApiClient(url, { ...(settings.token ? { token: settings.token.value } : {}), ...(ca ? { ca } : {}) });
      } catch (err) {
        throw new UsageError(`--api: ${(err as Error).message}`);
      }
    },
    asJson: (cmd) => globals(cmd).json === true || globals(cmd).output === 'json',
    out: (s) => void io.stdout.write(s),
    readConfig: async (o) => {
      if (o.config !== undefined && o.configFile !== undefined) throw new UsageError('give either --config or --config-file, not both');
      if (o.configFile !== undefined) return readJsonObject(io, { file: o.configFile, option: '--config-file' });
      if (o.config === undefined) return undefined;
      let parsed: unknown;
      try {
        parsed = JSON.parse(o.config);
      } catch {
        throw new UsageError('--config: not valid JSON');
      }
      if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new UsageError('--config: must be a JSON object');
      return parsed as Record<string, unknown>;
    },
  };
}

/** `--workspace <name>`: required, unless a default workspace is set (BROKER_WORKSPACE, config "workspace"), which is then its default. */
export function workspaceOption(ctx: CliContext, description = 'workspace'): Option {
  const o = new Option('--workspace <name>', description).makeOptionMandatory();
  return ctx.defaultWorkspace === undefined ? o : o.default(ctx.defaultWorkspace, `${ctx.defaultWorkspace}, from ${ctx.settings.workspace!.source}`);
}
