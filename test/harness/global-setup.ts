/**
 * Bundle the workflows once per test run (webpack is the slow part of starting a worker) and hand
 * the bundle to every suite through the environment.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';

/** The workflows bundled as the worker bundles them (with the production failure converter). */
export async function bundleWorkflows(): Promise<string> {
  const { code } = await bundleWorkflowCode({
    workflowsPath: require.resolve('../../workflows'),
    failureConverterPath: require.resolve('../../codec/failure-converter'),
    logger: { info() {}, warn() {}, error: console.error, debug() {}, trace() {}, log() {} },
  });
  return code;
}

/** The bundle global setup wrote, or (outside jest's global setup) a fresh one. */
export async function testWorkflowBundle(): Promise<{ codePath: string } | { code: string }> {
  const codePath = process.env.BROKER_TEST_WORKFLOW_BUNDLE;
  return codePath ? { codePath } : { code: await bundleWorkflows() };
}

export default async function globalSetup(): Promise<void> {
  const out = path.join(os.tmpdir(), `secret-broker-workflows-${process.pid}.js`);
  fs.writeFileSync(out, await bundleWorkflows());
  process.env.BROKER_TEST_WORKFLOW_BUNDLE = out;
}
