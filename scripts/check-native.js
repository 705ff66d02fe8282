'use strict';
// ssh2 builds an optional native crypto binding and an optional cpu-features addon at install, and
// silently falls back to pure JS when either does not load (built against another Node's headers, or
// not built at all). install-tools.sh runs this after `npm ci`: both must load in the Node that runs
// the broker. Prints one line; exits 1 naming what failed.
const failed = [];
let ssh2Binding = false;
try {
  ssh2Binding = require('ssh2/lib/protocol/crypto.js').bindingAvailable === true;
  if (!ssh2Binding) require('ssh2/lib/protocol/crypto/build/Release/sshcrypto.node'); // throws the reason
} catch (err) {
  failed.push(`ssh2 crypto binding: ${String(err.message).replace(/\s+/g, ' ')}`);
}
if (!ssh2Binding && !failed.length) failed.push('ssh2 crypto binding: not available');
try {
  // cpu-features as ssh2 itself loads it (an optional dependency of ssh2's, wherever npm placed it).
  const cpu = require('node:module').createRequire(require.resolve('ssh2'))('cpu-features')();
  if (!cpu || typeof cpu.arch !== 'string') failed.push('cpu-features: no CPU information');
} catch (err) {
  failed.push(`cpu-features: ${String(err.message).replace(/\s+/g, ' ')}`);
}
if (failed.length) {
  process.stderr.write(`[install] native addons under node ${process.version} (ABI ${process.versions.modules}):\n  ${failed.join('\n  ')}\n`);
  process.exit(1);
}
process.stderr.write(`[install] native addons load under node ${process.version} (ABI ${process.versions.modules}): ssh2 crypto binding, cpu-features\n`);
