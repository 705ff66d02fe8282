/**
 * Bundle the workflows once per test run (webpack is the slow part of starting a worker) and hand
 * the bundle to every suite through the environment.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';

export default async function globalSetup(): Promise<void> {
  const out = path.join(os.tmpdir(), `secret-broker-workflows-${process.pid}.js`);
  const { code } = await bundleWorkflowCode({
    workflowsPath: require.resolve('../../workflows'),
    failureConverterPath: require.resolve('../../codec/failure-converter'),
    logger: { info() {}, warn() {}, error: console.error, debug() {}, trace() {}, log() {} },
  });
  fs.writeFileSync(out, code);
  process.env.BROKER_TEST_WORKFLOW_BUNDLE = out;
}
