/**
 * What every command group gets from the program: the streams, the API client for the global
 * `--api`, the global `--json`, and the settings reader of `--config` / `--config-file`.
 */
import type { Command } from 'commander';
import { BrokerApiClient, DEFAULT_API_URL } from './api-client';
import { type CliIo, UsageError, readJsonObject } from './io';

export interface CliContext {
  io: CliIo;
  /** The API client for the global `--api` (env BROKER_API_URL, default DEFAULT_API_URL). */
  client(cmd: Command): BrokerApiClient;
  /** True when the global `--json` is given. */
  asJson(cmd: Command): boolean;
  /** Write to stdout. */
  out(s: string): void;
  /** Settings from --config JSON or --config-file PATH (not both); undefined when neither is given. */
  readConfig(o: { config?: string; configFile?: string }): Promise<Record<string, unknown> | undefined>;
  /** Wait between polls of --wait (tests shorten it). */
  pollMs?: number;
}

interface GlobalOpts {
  api?: string;
  json?: boolean;
}

export function createCliContext(io: CliIo): CliContext {
  const globals = (cmd: Command): GlobalOpts => cmd.optsWithGlobals<GlobalOpts>();
  return {
    io,
    client: (cmd) => {
      const url = globals(cmd).api ?? io.env.BROKER_API_URL ?? DEFAULT_API_URL;
      try {
        return new BrokerApiClient(url);
      } catch (err) {
        throw new UsageError(`--api: ${(err as Error).message}`);
      }
    },
    asJson: (cmd) => globals(cmd).json === true,
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
