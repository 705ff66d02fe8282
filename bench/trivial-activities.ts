/** The trivial workflow's activities: they return refs shaped like the broker's and do nothing else. */

export interface TrivialRef {
  platform: string;
  computeEnvId: string;
  secretName: string;
  remoteId: string;
  location: string;
}

interface Input {
  runId: string;
  secretNames: string[];
}

const refsOf = (input: Input): TrivialRef[] =>
  input.secretNames.map((secretName) => ({ platform: 'local', computeEnvId: 'ce-00000000-0000-0000-0000-000000000000', secretName, remoteId: `/tmp/tower-${input.runId}`, location: 'bench' }));

export const trivialActivities = {
  async resolve(input: Input): Promise<{ name: string; scope: string; secretId: string; version: number }[]> {
    return input.secretNames.map((name, i) => ({ name, scope: 'workspace', secretId: `00000000-0000-0000-0000-${String(i).padStart(12, '0')}`, version: 1 }));
  },
  async push(input: Input, _resolved: unknown[]): Promise<TrivialRef[]> {
    return refsOf(input);
  },
  async verify(_input: Input, _refs: TrivialRef[]): Promise<void> {},
  async remove(_input: Input, refs: TrivialRef[]): Promise<{ ref: TrivialRef; outcome: string }[]> {
    return refs.map((ref) => ({ ref, outcome: 'deleted' }));
  },
};

export type TrivialActivities = typeof trivialActivities;
