/**
 * What the Web UI shows of runs and rotations (domain/operator-view.ts): the phase, the last error
 * and what is left to delete, names and counts only.
 */
import { cleanupCurrentDetails, cleanupSummary, runCurrentDetails, runDetails, runSummary, rotationCurrentDetails, rotationDetails, rotationLabels, rotationSummary } from '../../domain/operator-view';
import type { RunStatus } from '../../domain/run';

const ref = (secretName: string, remoteId: string) => ({ platform: 'aws' as const, computeEnvId: 'ce1', secretName, remoteId });

const stuck: RunStatus = {
  runId: 'run42',
  workspaceId: 'ws1',
  userId: 'u1',
  computeEnvId: 'ce1',
  platform: 'aws',
  phase: 'deleting',
  outcome: 'succeeded',
  secretNames: ['DB_PASSWORD', 'API_TOKEN', 'OTHER'],
  refs: [
    { ref: ref('DB_PASSWORD', 'tower-run42-DB_PASSWORD'), state: 'pushed' },
    { ref: ref('API_TOKEN', 'tower-run42-API_TOKEN'), state: 'deleted' },
    { ref: ref('OTHER', 'tower-run42-OTHER'), state: 'not-owned' },
  ],
  startedAt: '2026-12-01T00:00:00.000Z',
  deleteAttempts: 3,
  lastError: 'delete round 3 failed: AccessDeniedException: not authorized to perform secretsmanager:DeleteSecret',
};

test('a stuck delete says its phase, rounds, what is left (names and where), and why', () => {
  expect(runCurrentDetails(stuck)).toBe(
    [
      '**Phase** deleting (run succeeded) on aws, 3 delete rounds',
      '**Left to delete** 1 of 3: DB\\_PASSWORD (tower-run42-DB\\_PASSWORD)',
      "**Left alone (not the broker's)** OTHER (tower-run42-OTHER)",
      '**Last error** delete round 3 failed: AccessDeniedException: not authorized to perform secretsmanager:DeleteSecret',
    ].join('  \n'),
  );
});

test('secrets in one place (a run directory) are named once per place', () => {
  const dir = '/shared/tower/tower-run42';
  const shown = runCurrentDetails({ ...stuck, refs: [{ ref: ref('A', dir), state: 'pushed' }, { ref: ref('B', dir), state: 'planned' }] });
  expect(shown).toContain('  \n**Left to delete** 2 of 2: A, B (/shared/tower/tower-run42)  \n');
});

test('a long error is cut; markup in names cannot break the page', () => {
  const shown = runCurrentDetails({ ...stuck, lastError: `x${'y'.repeat(2000)}`, refs: [{ ref: ref('A', '<img src=x>|*'), state: 'planned' }] });
  expect(shown).toContain('\\<img src=x\\>\\|\\*');
  expect(shown.split('\n').pop()!.length).toBeLessThan(520);
});

test('a run launching shows its phase only', () => {
  expect(runCurrentDetails({ ...stuck, phase: 'resolving', outcome: undefined, platform: undefined, refs: [], deleteAttempts: 0, lastError: undefined })).toBe('**Phase** resolving');
});

test('summary and details: run id, workspace and user names, compute environment, secret count', () => {
  const l = { runId: 'run42', workspace: 'genomics', user: 'ada', computeEnv: 'batch-eu', platform: 'aws', secretCount: 3 };
  expect(runSummary(l)).toBe('run run42: 3 secrets for genomics/ada on batch-eu (aws)');
  expect(runSummary({ ...l, secretCount: 1, platform: undefined })).toBe('run run42: 1 secret for genomics/ada on batch-eu');
  expect(runDetails(l)).toBe('**Run** run42, 3 secrets  \n**Workspace** genomics  \n**User** ada  \n**Compute environment** batch-eu (aws)');
});

test('rotations: summary, details and the step with the slots and the last error', () => {
  const input = { target: { kind: 'aws-access-key' as const, credentialId: 'cred1' }, account: 'aws-access-key:123:ci', label: 'ci-deployer' };
  const l = rotationLabels(input as never, 'scheduled-rotate-cred1-2026-12-01T00:00:00Z');
  expect(rotationSummary(l)).toBe('scheduled rotation of ci-deployer (aws-access-key)');
  expect(rotationDetails(l)).toContain('**Credential** ci-deployer (cred1)');
  expect(rotationSummary(rotationLabels({ ...input, label: undefined } as never))).toBe('rotation of aws-access-key:123:ci (aws-access-key)');
  expect(
    rotationCurrentDetails({ account: input.account, kind: 'aws-access-key', step: 'switch-back', from: 'AKIAOLD', to: 'AKIANEW', steps: [{ step: 'inspect', at: 0 }] }, 'verify failed: InvalidClientTokenId'),
  ).toBe('**Step** switch-back  \n**Slots** AKIAOLD → AKIANEW  \n**Done** inspect  \n**Last error** verify failed: InvalidClientTokenId');
});

test("a terminated run's cleanup: phase, rounds, what is left, the last error", () => {
  const refs = [{ ref: ref('DB_PASSWORD', '/shared/tower/tower-run42'), state: 'pushed' as const }];
  expect(cleanupSummary('run42')).toBe('cleanup of run run42, terminated before it deleted its secrets');
  expect(cleanupCurrentDetails({ phase: 'deleting', refs, deleteAttempts: 2, lastError: 'delete round 2 failed: ECONNREFUSED' })).toBe(
    '**Phase** deleting, 2 delete rounds  \n**Left to delete** 1 of 1: DB\\_PASSWORD (/shared/tower/tower-run42)  \n**Last error** delete round 2 failed: ECONNREFUSED',
  );
  expect(cleanupCurrentDetails({ phase: 'unreadable', refs: [], deleteAttempts: 0 })).toContain('the hourly sweep deletes what it left');
});
