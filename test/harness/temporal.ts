/** A real Temporal dev server on free loopback ports, with the broker's search attributes registered. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Connection } from '@temporalio/client';
import { SEARCH_ATTRIBUTE_NAMES } from '../../domain/run';
import { freePort, spawnServer, waitForPort, type ServerProcess } from './process';
import { tool } from './tools';

export interface TemporalServer {
  address: string;
  namespace: string;
  /** The `temporal` arguments the server was started with (the bench prints them). */
  args: string[];
  process: ServerProcess;
  stop(): Promise<void>;
}

/** The dynamic configuration the project runs the dev server with (scripts/temporal-dev.args). */
function devServerDynamicConfig(): string[] {
  const file = path.join(__dirname, '../../scripts/temporal-dev.args');
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'))
    .flatMap((kv) => ['--dynamic-config-value', kv]);
}

export interface TemporalUiOptions {
  /** The Web UI's port (on 127.0.0.1). */
  port: number;
  /** The remote codec endpoint the UI decodes payloads with, as `make start` wires it (the broker API's /codec). */
  codecEndpoint: string;
}

export interface TemporalOptions {
  /** Keep state in this SQLite file (in memory otherwise): a restart on the same file keeps every workflow. */
  dbFile?: string;
  /** Listen on this port (a restarted server keeps its address); a free one by default. */
  port?: number;
  /** Headless unless given: then the Web UI too, wired to a codec endpoint like `make start`'s. */
  ui?: TemporalUiOptions;
}

export async function startTemporal(opts: TemporalOptions = {}): Promise<TemporalServer> {
  const port = opts.port ?? (await freePort());
  const ui = opts.ui ? ['--ui-ip', '127.0.0.1', '--ui-port', String(opts.ui.port), '--ui-codec-endpoint', opts.ui.codecEndpoint] : ['--headless'];
  const args = ['server', 'start-dev', ...ui, '--ip', '127.0.0.1', '--port', String(port), '--log-level', 'error', ...devServerDynamicConfig()];
  if (opts.dbFile) args.push('--db-filename', opts.dbFile);
  for (const name of SEARCH_ATTRIBUTE_NAMES) args.push('--search-attribute', `${name}=Keyword`);
  const proc = spawnServer(tool('temporal'), args);
  const address = `127.0.0.1:${port}`;
  try {
    await waitForPort(port, 60_000);
    // The frontend answers before the namespace is ready: wait until it is.
    const connection = await Connection.connect({ address });
    try {
      const deadline = Date.now() + 60_000;
      for (;;) {
        try {
          await connection.workflowService.describeNamespace({ namespace: 'default' });
          break;
        } catch (err) {
          if (Date.now() > deadline) throw err;
          await new Promise((r) => setTimeout(r, 200));
        }
      }
    } finally {
      await connection.close();
    }
  } catch (err) {
    await proc.stop('SIGKILL');
    throw new Error(`Temporal dev server did not start: ${(err as Error).message}\n${proc.output().slice(-2000)}`);
  }
  return { address, namespace: 'default', args, process: proc, stop: () => proc.stop() };
}
