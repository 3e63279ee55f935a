/**
 * Debian's Chromium, as the Galata tests and `make bench` launch it: browsers cannot be
 * downloaded on our machines, and the network is closed (hence the background-networking flags).
 */
const { execSync } = require('child_process');

/** `CHROMIUM_PATH`, else `chromium` on the PATH. */
function chromiumPath() {
  if (process.env.CHROMIUM_PATH) {
    return process.env.CHROMIUM_PATH;
  }
  try {
    return execSync('command -v chromium', { shell: '/bin/bash' }).toString().trim();
  } catch {
    throw new Error('Chromium not found: install it with `apt-get install chromium` (make test does).');
  }
}

const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic'
];

module.exports = { chromiumPath, CHROMIUM_ARGS };
