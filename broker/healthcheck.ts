/**
 * The container healthcheck (docker-compose.yml): `node lib/broker/healthcheck.js api|worker`, run
 * inside the broker's container with its environment. Exit 0 when healthy, 1 with one line saying why.
 *
 * - api: GET /healthz on the API port answers 200.
 * - worker: /metrics shows the worker polling its task queue for workflow and activity tasks
 *   (temporal_num_pollers above 0): the process is up and connected to Temporal.
 */
import { readSettings } from './settings';

async function get(url: string): Promise<{ status: number; text: string }> {
  const res = await fetch(url, { signal: AbortSignal.timeout(4_000) });
  return { status: res.status, text: await res.text() };
}

/** The number of pollers of one type the worker reports. */
function pollers(metrics: string, type: 'workflow_task' | 'activity_task'): number {
  let n = 0;
  for (const line of metrics.split('\n')) {
    if (line.startsWith('temporal_num_pollers{') && line.includes(`poller_type="${type}"`)) n += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return n;
}

async function check(role: string, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const s = readSettings(env, ['BROKER_API_PORT', 'BROKER_METRICS_PORT']);
  if (role === 'api') {
    const { status } = await get(`http://127.0.0.1:${s.BROKER_API_PORT}/healthz`);
    if (status !== 200) throw new Error(`/healthz answered ${status}`);
    return 'api healthy';
  }
  if (role === 'worker') {
    if (!s.BROKER_METRICS_PORT) throw new Error('BROKER_METRICS_PORT=0: the worker healthcheck reads /metrics');
    const { text } = await get(`http://127.0.0.1:${s.BROKER_METRICS_PORT}/metrics`);
    const wf = pollers(text, 'workflow_task');
    const act = pollers(text, 'activity_task');
    if (!(wf > 0 && act > 0)) throw new Error(`the worker is not polling (workflow pollers ${wf}, activity pollers ${act})`);
    return `worker polling (workflow pollers ${wf}, activity pollers ${act})`;
  }
  throw new Error(`usage: node lib/broker/healthcheck.js api|worker (got ${role ?? 'nothing'})`);
}

if (require.main === module) {
  check(process.argv[2]).then(
    (ok) => {
      process.stdout.write(`${ok}\n`);
      process.exit(0);
    },
    (err: Error) => {
      process.stdout.write(`unhealthy: ${err.message}\n`);
      process.exit(1);
    },
  );
}
