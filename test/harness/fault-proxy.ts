/**
 * A small HTTP proxy in front of moto that answers a share of the calls with the real AWS
 * throttling error instead of forwarding them (moto has no fault injection):
 *
 *   JSON protocol (Secrets Manager, X-Amz-Target: secretsmanager.<Op>):
 *     HTTP 400, {"__type":"ThrottlingException","message":"Rate exceeded"}
 *   Query protocol (IAM, STS: Action=<Op> in the form body):
 *     HTTP 400, <ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code>
 *               <Message>Rate exceeded</Message></Error>...</ErrorResponse>
 *
 * Which calls are eligible is a predicate on (service, operation); the share is drawn from a seeded
 * generator, so a run is repeatable. Listens on loopback only; forwards to loopback only.
 *
 * It also does what moto does not: `revoke(accessKeyId)` makes every later call signed with that key
 * fail as AWS fails a deleted key (UnrecognizedClientException / InvalidClientTokenId), and `calls()`
 * lists which access key id (public, from the SigV4 credential scope) signed each call.
 *
 * For chaos and cancellation tests, `setFaults` adds more kinds of trouble, each a share of the
 * eligible calls drawn from the same seeded generator:
 *   error5xx  HTTP 500 InternalFailure (JSON) / 503 ServiceUnavailable (query)
 *   reset     the connection is destroyed without an answer (the call may not have happened)
 *   latency   the call is held `latencyMs` before it is forwarded; a caller that gives up meanwhile
 *             (closes its connection: an aborted SDK call) is never forwarded, as a request that never
 *             reached AWS
 *
 * `startTcpFaultProxy` (below) does what a network does for peers that speak something other than
 * HTTP/1 (the Google Secret Manager emulator speaks gRPC over HTTP/2), from the same generator.
 */
import { randomUUID } from 'node:crypto';
import * as http from 'node:http';
import * as net from 'node:net';

export interface CallInfo {
  /** "secretsmanager", "iam", "sts" ... (from X-Amz-Target or the SigV4 credential scope). */
  service: string;
  /** "CreateSecret", "GetRole" ... */
  operation: string;
  /** The access key id that signed the call (not secret), '' when unsigned. */
  accessKeyId?: string;
}

export interface FaultProxyOptions {
  /** Where to forward: the moto endpoint (http://127.0.0.1:PORT). */
  target: string;
  /** Share of eligible calls answered with a throttling error, 0..1. */
  share: number;
  /** Which calls are eligible; default: every Secrets Manager call. */
  eligible?: (call: CallInfo) => boolean;
  /** Seed of the generator that draws the faults; default 1. */
  seed?: number;
  /** Faults beyond throttling; none by default. */
  faults?: Faults;
}

export interface FaultProxyStats {
  forwarded: number;
  throttled: number;
  /** Answered 5xx, connections reset, calls held, and held calls dropped because the caller left. */
  errors5xx: number;
  resets: number;
  held: number;
  abandoned: number;
  byOperation: Record<string, { forwarded: number; throttled: number }>;
}

/** Shares (0..1) of eligible calls for each fault beyond throttling, and how long a held call waits. */
export interface Faults {
  error5xx?: number;
  reset?: number;
  latency?: number;
  latencyMs?: number;
}

export interface FaultProxy {
  endpoint: string;
  stats(): FaultProxyStats;
  setShare(share: number): void;
  /** Replace the faults beyond throttling. */
  setFaults(faults: Faults): void;
  /** Every call seen, in order, with the access key id that signed it. */
  calls(): CallInfo[];
  /** From now on, calls signed with this key fail as calls with a deleted key do. */
  revoke(accessKeyId: string): void;
  stop(): Promise<void>;
}

/** mulberry32: small, seeded, good enough to spread faults (and to draw a chaos run's plan). */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function callInfo(req: http.IncomingMessage, body: Buffer): CallInfo & { json: boolean } {
  const target = req.headers['x-amz-target'];
  if (typeof target === 'string' && target.includes('.')) {
    const [prefix, op] = target.split('.');
    return { service: prefix!.toLowerCase(), operation: op ?? '', json: true };
  }
  const auth = req.headers.authorization ?? '';
  const scope = /Credential=[^/]+\/\d{8}\/[^/]+\/([^/]+)\/aws4_request/.exec(auth);
  const action = new URLSearchParams(body.toString('utf8')).get('Action') ?? '';
  return { service: scope?.[1] ?? 'unknown', operation: action, json: false };
}

function signingKeyId(req: http.IncomingMessage): string {
  return /Credential=([A-Z0-9]{16,128})\//.exec(req.headers.authorization ?? '')?.[1] ?? '';
}

export async function startFaultProxy(opts: FaultProxyOptions): Promise<FaultProxy> {
  const upstream = new URL(opts.target);
  if (!['127.0.0.1', 'localhost', '[::1]'].includes(upstream.hostname)) throw new Error('the fault proxy forwards to loopback only');
  const eligible = opts.eligible ?? ((c: CallInfo) => c.service === 'secretsmanager');
  const rand = seeded(opts.seed ?? 1);
  let share = opts.share;
  let faults: Faults = opts.faults ?? {};
  const stats: FaultProxyStats = { forwarded: 0, throttled: 0, errors5xx: 0, resets: 0, held: 0, abandoned: 0, byOperation: {} };
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  const seen: CallInfo[] = [];
  const revoked = new Set<string>();

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const call = callInfo(req, body);
      const accessKeyId = signingKeyId(req);
      seen.push({ service: call.service, operation: call.operation, accessKeyId });
      if (accessKeyId && revoked.has(accessKeyId)) {
        const requestId = randomUUID();
        if (call.json) {
          const payload = JSON.stringify({ __type: 'UnrecognizedClientException', message: 'The security token included in the request is invalid.' });
          res.writeHead(400, { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-requestid': requestId, 'content-length': Buffer.byteLength(payload) });
          res.end(payload);
        } else {
          const payload =
            `<ErrorResponse xmlns="https://${call.service}.amazonaws.com/doc/2010-05-08/"><Error><Type>Sender</Type>` +
            `<Code>InvalidClientTokenId</Code><Message>The security token included in the request is invalid.</Message></Error><RequestId>${requestId}</RequestId></ErrorResponse>`;
          res.writeHead(403, { 'content-type': 'text/xml', 'x-amzn-requestid': requestId, 'content-length': Buffer.byteLength(payload) });
          res.end(payload);
        }
        return;
      }
      const key = `${call.service}:${call.operation}`;
      const op = (stats.byOperation[key] ??= { forwarded: 0, throttled: 0 });
      if (eligible(call) && rand() < share) {
        stats.throttled++;
        op.throttled++;
        const requestId = randomUUID();
        if (call.json) {
          const payload = JSON.stringify({ __type: 'ThrottlingException', message: 'Rate exceeded' });
          res.writeHead(400, {
            'content-type': 'application/x-amz-json-1.1',
            'x-amzn-requestid': requestId,
            'content-length': Buffer.byteLength(payload),
          });
          res.end(payload);
        } else {
          const payload =
            `<ErrorResponse xmlns="https://${call.service}.amazonaws.com/doc/2010-05-08/"><Error><Type>Sender</Type>` +
            `<Code>Throttling</Code><Message>Rate exceeded</Message></Error><RequestId>${requestId}</RequestId></ErrorResponse>`;
          res.writeHead(400, { 'content-type': 'text/xml', 'x-amzn-requestid': requestId, 'content-length': Buffer.byteLength(payload) });
          res.end(payload);
        }
        return;
      }
      // Only drawn when faults are set, so suites that throttle only keep their seeded sequence.
      if (eligible(call) && (faults.error5xx || faults.reset || faults.latency)) {
        const draw = rand();
        const e5 = faults.error5xx ?? 0;
        const rs = faults.reset ?? 0;
        if (draw < e5) {
          stats.errors5xx++;
          const requestId = randomUUID();
          const payload = call.json
            ? JSON.stringify({ __type: 'InternalServiceError', message: 'An error occurred on the server side.' })
            : `<ErrorResponse><Error><Type>Receiver</Type><Code>ServiceUnavailable</Code><Message>Service is unavailable</Message></Error><RequestId>${requestId}</RequestId></ErrorResponse>`;
          res.writeHead(call.json ? 500 : 503, { 'content-type': call.json ? 'application/x-amz-json-1.1' : 'text/xml', 'x-amzn-requestid': requestId, 'content-length': Buffer.byteLength(payload) });
          res.end(payload);
          return;
        }
        if (draw < e5 + rs) {
          stats.resets++;
          req.socket.destroy();
          return;
        }
        if (faults.latency && rand() < faults.latency) {
          stats.held++;
          let gone = false;
          res.on('close', () => (gone = !res.writableFinished));
          setTimeout(() => {
            if (gone || req.socket.destroyed) {
              stats.abandoned++;
              return;
            }
            forward();
          }, faults.latencyMs ?? 1_000);
          return;
        }
      }
      forward();

      function forward(): void {
        stats.forwarded++;
        op.forwarded++;
        const headers = { ...req.headers, host: upstream.host };
        const up = http.request(
          { agent, host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers },
          (upRes) => {
            res.writeHead(upRes.statusCode ?? 502, upRes.headers);
            upRes.pipe(res);
          },
        );
        up.on('error', () => {
          if (!res.headersSent) res.writeHead(502);
          res.end();
        });
        up.end(body);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    stats: () => JSON.parse(JSON.stringify(stats)) as FaultProxyStats,
    setShare(s: number) {
      share = s;
    },
    setFaults(f: Faults) {
      faults = f;
    },
    calls: () => seen.map((c) => ({ ...c })),
    revoke(accessKeyId: string) {
      revoked.add(accessKeyId);
    },
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      agent.destroy();
    },
  };
}

/**
 * The TCP fault proxy, on loopback, for peers that speak something other than plain HTTP/1 (the
 * Google Secret Manager emulator speaks gRPC over HTTP/2): it cannot answer with a protocol error,
 * but it can do what a network does. Clients keep their connections open (gRPC shares one per address), so the
 * faults are drawn per chunk the client sends (a call, or part of one), from a seeded generator:
 *   reset    the connection is cut with a TCP RST, either before the chunk is passed on (the call
 *            never reached the server) or a moment after (it did, and its answer is lost); every
 *            call in flight on the connection fails and the client must reconnect
 *   latency  the chunk is held `latencyMs` before it is passed on (order kept)
 * `cutAll()` resets every open connection at once (a network blip). Forwards to loopback only.
 */

export interface TcpFaults {
  /** Share of client chunks whose connection is reset, 0..1. */
  reset?: number;
  /** Share of client chunks held latencyMs, 0..1. */
  latency?: number;
  latencyMs?: number;
}

export interface TcpFaultProxyStats {
  connections: number;
  chunks: number;
  /** Connections reset before the chunk reached the server, after it did, and by cutAll. */
  resetsBefore: number;
  resetsAfter: number;
  cuts: number;
  delayed: number;
}

export interface TcpFaultProxy {
  host: string;
  port: number;
  setFaults(f: TcpFaults): void;
  /** Reset every open connection now. */
  cutAll(): number;
  stats(): TcpFaultProxyStats;
  stop(): Promise<void>;
}

/** Pass `from`'s bytes to `to` in order, each chunk through `gate`: pass now, after a delay, or drop. */
function pass(from: net.Socket, to: net.Socket, gate: (chunk: Buffer) => { delayMs: number; drop?: boolean; after?: () => void }): void {
  let held = false;
  let ended = false;
  from.on('data', (chunk: Buffer) => {
    const g = gate(chunk);
    if (g.drop) return;
    const write = () => {
      if (!to.destroyed) to.write(chunk);
      g.after?.();
    };
    if (g.delayMs <= 0) return write();
    held = true;
    from.pause();
    setTimeout(() => {
      held = false;
      write();
      if (ended) to.end();
      else if (!from.destroyed) from.resume();
    }, g.delayMs);
  });
  from.on('end', () => {
    ended = true;
    if (!held && !to.destroyed) to.end();
  });
}

export async function startTcpFaultProxy(opts: { target: { host: string; port: number }; seed?: number; faults?: TcpFaults }): Promise<TcpFaultProxy> {
  if (!['127.0.0.1', 'localhost', '::1'].includes(opts.target.host)) throw new Error('the TCP fault proxy forwards to loopback only');
  const rand = seeded(opts.seed ?? 1);
  let faults: TcpFaults = opts.faults ?? {};
  const stats: TcpFaultProxyStats = { connections: 0, chunks: 0, resetsBefore: 0, resetsAfter: 0, cuts: 0, delayed: 0 };
  const pairs = new Map<net.Socket, net.Socket>();
  const cut = (a: net.Socket, b: net.Socket) => {
    for (const s of [a, b]) if (!s.destroyed) s.resetAndDestroy();
  };

  const server = net.createServer((client) => {
    stats.connections++;
    const upstream = net.connect({ host: opts.target.host, port: opts.target.port });
    pairs.set(client, upstream);
    client.on('close', () => {
      pairs.delete(client);
      upstream.destroy();
    });
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
    upstream.on('close', () => client.destroy());
    pass(client, upstream, () => {
      stats.chunks++;
      const draw = rand();
      const reset = faults.reset ?? 0;
      if (draw < reset) {
        if (rand() < 0.5) {
          stats.resetsBefore++;
          cut(client, upstream);
          return { delayMs: 0, drop: true };
        }
        stats.resetsAfter++;
        return { delayMs: 0, after: () => setTimeout(() => cut(client, upstream), 20 + Math.floor(rand() * 300)) };
      }
      if (draw < reset + (faults.latency ?? 0)) {
        stats.delayed++;
        return { delayMs: faults.latencyMs ?? 500 };
      }
      return { delayMs: 0 };
    });
    pass(upstream, client, () => ({ delayMs: 0 }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    host: '127.0.0.1',
    port,
    setFaults(f) {
      faults = f;
    },
    cutAll() {
      let n = 0;
      for (const [c, u] of [...pairs]) {
        cut(c, u);
        n++;
      }
      stats.cuts += n;
      return n;
    },
    stats: () => ({ ...stats }),
    async stop() {
      for (const [c, u] of [...pairs]) {
        c.destroy();
        u.destroy();
      }
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
