/**
 * commander 15 ships as ES modules only. Node 20.19+ loads it with require(), but Jest's module
 * loader does not (on Node < 24.9), so CLI suites map `commander` to the copy Node itself loads:
 *
 *   jest.mock('commander', () => require('./commander-shim').realCommander());
 *
 * Outside Jest (bin/secret-broker on lib/) the plain `require('commander')` is used.
 */
import * as nodeModule from 'node:module';

interface ModuleInternals {
  _load(request: string, parent: unknown, isMain: boolean): unknown;
  _nodeModulePaths(from: string): string[];
}

export function realCommander(): unknown {
  const M = nodeModule as unknown as ModuleInternals & { default?: ModuleInternals };
  const internals = typeof M._load === 'function' ? M : (M.default as ModuleInternals);
  const parent = { id: __filename, filename: __filename, paths: internals._nodeModulePaths(__dirname) };
  return internals._load('commander', parent, false);
}
