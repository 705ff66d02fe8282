/**
 * The workflow bundle, built once by `make build` (scripts/build.sh runs `node lib/worker/bundle.js`
 * after tsc) and loaded by every worker start: lib/workflow-bundle.js, and beside it
 * lib/workflow-bundle.json with its sha256 and the build id this release's workers poll as (Worker
 * Deployment versioning: README.md, Worker versioning).
 *
 * The build id is `<package version>-<first 12 hex of the bundle's sha256>`: the same workflow code
 * gives the same id, a change to it a new one. BROKER_BUILD_ID overrides it (a CI release number).
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { FAILURE_CONVERTER_PATH } from '../codec/data-converter';
import { WORKFLOWS_PATH } from './worker';

/** lib/ when this runs compiled (lib/worker/bundle.js). */
const LIB = path.resolve(__dirname, '..');
const WORKFLOW_BUNDLE_PATH = path.join(LIB, 'workflow-bundle.js');

export interface BundleInfo {
  /** `<version>-<sha12>` */
  buildId: string;
  sha256: string;
  version: string;
  builtAt: string;
}

const quiet = (warn: (m: string) => void) => ({ trace() {}, debug() {}, info() {}, log() {}, warn, error: warn });

async function buildWorkflowBundle(out = WORKFLOW_BUNDLE_PATH, warn: (m: string) => void = (m) => process.stderr.write(`${m}\n`)): Promise<BundleInfo> {
  const { code } = await bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, failureConverterPath: FAILURE_CONVERTER_PATH, logger: quiet(warn) });
  const sha256 = createHash('sha256').update(code).digest('hex');
  const version = (JSON.parse(fs.readFileSync(path.join(LIB, '..', 'package.json'), 'utf8')) as { version: string }).version;
  const info: BundleInfo = { buildId: `${version}-${sha256.slice(0, 12)}`, sha256, version, builtAt: new Date().toISOString() };
  fs.writeFileSync(out, code);
  fs.writeFileSync(out.replace(/\.js$/, '.json'), `${JSON.stringify(info, null, 2)}\n`);
  return info;
}

class MissingBundleError extends Error {
  override name = 'MissingBundleError';
}

/** The prebuilt bundle and its info; checks the bundle is the one the info describes. */
export function loadBundleInfo(codePath = WORKFLOW_BUNDLE_PATH): BundleInfo & { codePath: string } {
  const infoPath = codePath.replace(/\.js$/, '.json');
  if (!fs.existsSync(codePath) || !fs.existsSync(infoPath)) {
    throw new MissingBundleError(`no workflow bundle at ${codePath}: build it with 'make build' (the worker does not bundle at start)`);
  }
  const info = JSON.parse(fs.readFileSync(infoPath, 'utf8')) as BundleInfo;
  const sha256 = createHash('sha256').update(fs.readFileSync(codePath)).digest('hex');
  if (sha256 !== info.sha256) throw new MissingBundleError(`${codePath} does not match ${infoPath} (sha256 ${sha256.slice(0, 12)}, expected ${info.sha256.slice(0, 12)}): rebuild with 'make build'`);
  return { ...info, codePath };
}

if (require.main === module) {
  buildWorkflowBundle().then(
    (info) => process.stdout.write(`workflow bundle ${path.relative(process.cwd(), WORKFLOW_BUNDLE_PATH)}: build id ${info.buildId}\n`),
    (err: Error) => {
      process.stderr.write(`workflow bundle failed: ${err.message}\n`);
      process.exit(1);
    },
  );
}
