/**
 * Project-level IAM checks over gRPC: `TestIamPermissions` (which of these permissions does the
 * caller hold on projects/P) and `GetIamPolicy` (who holds which role on projects/P).
 *
 * Against Google the service is Resource Manager v3 (`google.cloud.resourcemanager.v3.Projects` at
 * cloudresourcemanager.googleapis.com); against the blackwell-systems IAM emulator it is
 * `google.iam.v1.IAMPolicy`. Both use the google.iam.v1 request and response messages, which are
 * small enough to encode here by hand, so no extra client library is needed.
 */
import * as grpc from '@grpc/grpc-js';

export interface ProjectBinding {
  role: string;
  members: string[];
  /** True when the binding has a condition (not evaluated here). */
  conditional: boolean;
}

export interface ProjectIam {
  /** The subset of `permissions` the caller holds on projects/<project>. */
  testPermissions(project: string, permissions: string[]): Promise<string[]>;
  /** The project's policy bindings. */
  getPolicy(project: string): Promise<ProjectBinding[]>;
  close(): void;
}

export const RESOURCE_MANAGER = { address: 'cloudresourcemanager.googleapis.com:443', service: 'google.cloud.resourcemanager.v3.Projects' };
export const IAM_POLICY_SERVICE = 'google.iam.v1.IAMPolicy';

// --- protobuf wire format, just what these messages need ---------------------------------------

function varint(n: number): Buffer {
  const out: number[] = [];
  while (n > 0x7f) {
    out.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  out.push(n);
  return Buffer.from(out);
}

function lenField(field: number, bytes: Buffer): Buffer {
  return Buffer.concat([varint((field << 3) | 2), varint(bytes.length), bytes]);
}

/** Length-delimited fields of a message, by field number (other wire types skipped). */
function readFields(buf: Buffer): Array<[number, Buffer]> {
  const out: Array<[number, Buffer]> = [];
  let i = 0;
  const readVarint = (): number => {
    let shift = 0;
    let result = 0;
    for (;;) {
      if (i >= buf.length) throw new Error('truncated protobuf message');
      const b = buf[i++];
      result += (b & 0x7f) * 2 ** shift;
      if (!(b & 0x80)) return result;
      shift += 7;
    }
  };
  while (i < buf.length) {
    const tag = readVarint();
    const field = Math.floor(tag / 8);
    const wire = tag & 7;
    if (wire === 0) readVarint();
    else if (wire === 1) i += 8;
    else if (wire === 5) i += 4;
    else if (wire === 2) {
      const len = readVarint();
      out.push([field, buf.subarray(i, i + len)]);
      i += len;
    } else throw new Error(`unsupported protobuf wire type ${wire}`);
  }
  return out;
}

/** google.iam.v1.TestIamPermissionsRequest { string resource = 1; repeated string permissions = 2; } */
export function encodeTestRequest(resource: string, permissions: string[]): Buffer {
  return Buffer.concat([lenField(1, Buffer.from(resource)), ...permissions.map((p) => lenField(2, Buffer.from(p)))]);
}

/** google.iam.v1.TestIamPermissionsResponse { repeated string permissions = 1; } */
export function decodeTestResponse(buf: Buffer): string[] {
  return readFields(buf)
    .filter(([f]) => f === 1)
    .map(([, b]) => b.toString());
}

/** google.iam.v1.GetIamPolicyRequest { string resource = 1; GetPolicyOptions options = 2 { int32 requested_policy_version = 1; } } */
export function encodeGetPolicyRequest(resource: string): Buffer {
  // requested_policy_version 3, so conditional bindings come back as conditional.
  return Buffer.concat([lenField(1, Buffer.from(resource)), lenField(2, Buffer.from([0x08, 0x03]))]);
}

/** google.iam.v1.Policy { repeated Binding bindings = 4; } Binding { string role = 1; repeated string members = 2; Expr condition = 3; } */
export function decodePolicy(buf: Buffer): ProjectBinding[] {
  return readFields(buf)
    .filter(([f]) => f === 4)
    .map(([, b]) => {
      const fields = readFields(b);
      return {
        role: fields.find(([f]) => f === 1)?.[1].toString() ?? '',
        members: fields.filter(([f]) => f === 2).map(([, m]) => m.toString()),
        conditional: fields.some(([f]) => f === 3),
      };
    });
}

// --- the client ---------------------------------------------------------------------------------

export interface ProjectIamOptions {
  /** host:port */
  address: string;
  /** Fully qualified service name: RESOURCE_MANAGER.service or IAM_POLICY_SERVICE. */
  service: string;
  credentials: grpc.ChannelCredentials;
  /** Extra request metadata (the emulator's x-emulator-principal). */
  metadata?: Record<string, string>;
  timeoutMs?: number;
}

export function grpcProjectIam(opts: ProjectIamOptions): ProjectIam {
  const client = new grpc.Client(opts.address, opts.credentials);
  const call = <T>(method: string, request: Buffer, decode: (b: Buffer) => T): Promise<T> =>
    new Promise((resolve, reject) => {
      const md = new grpc.Metadata();
      for (const [k, v] of Object.entries(opts.metadata ?? {})) md.set(k, v);
      client.makeUnaryRequest(
        `/${opts.service}/${method}`,
        (b: Buffer) => b,
        (b: Buffer) => b,
        request,
        md,
        { deadline: Date.now() + (opts.timeoutMs ?? 15_000) },
        (err, res) => {
          if (err) return reject(err);
          try {
            resolve(decode(res ?? Buffer.alloc(0)));
          } catch (e) {
            reject(e);
          }
        },
      );
    });
  return {
    testPermissions: (project, permissions) => call('TestIamPermissions', encodeTestRequest(`projects/${project}`, permissions), decodeTestResponse),
    getPolicy: (project) => call('GetIamPolicy', encodeGetPolicyRequest(`projects/${project}`), decodePolicy),
    close: () => client.close(),
  };
}
