/**
 * `npm run interop`: the interop matrix (see src-main/testing/interop/). Starts
 * each independent OpenID Provider on 127.0.0.1 with a throw-away
 * configuration, runs Latchkey's engine against it through Debian Chromium,
 * prints provider × feature (pass / FAIL / unsupported) and exits non-zero on
 * any FAIL. A provider whose Debian package is missing is skipped with the reason.
 */
import { chromiumAvailable, CHROMIUM_MISSING, launchBrowser } from '../src-main/testing/browser.js';
import { glewlwydFixture } from '../src-main/testing/interop/glewlwyd.js';
import { lemonldapFixture } from '../src-main/testing/interop/lemonldap.js';
import { countOutcomes, formatMatrix, runMatrix } from '../src-main/testing/interop/matrix.js';

// LATCHKEY_INTEROP_ONLY=name runs one provider (a case-insensitive prefix of its name).
const only = process.env.LATCHKEY_INTEROP_ONLY?.toLowerCase();
const fixtures = [glewlwydFixture, lemonldapFixture].filter((f) => !only || f.name.toLowerCase().startsWith(only));

async function main(): Promise<number> {
  if (!chromiumAvailable()) {
    console.log(`interop: ${CHROMIUM_MISSING}`);
    return 0;
  }
  const started = Date.now();
  const browser = await launchBrowser();
  try {
    const rows = await runMatrix(fixtures, browser);
    const counts = countOutcomes(rows);
    console.log(`\nInterop matrix (${Math.round((Date.now() - started) / 1000)} s)\n`);
    console.log(formatMatrix(rows));
    console.log(`\ninterop: ${counts.passed} passed, ${counts.failed} failed, ${counts.unsupported + counts.skipped} skipped`);
    return counts.failed > 0 ? 1 : 0;
  } finally {
    await browser.close();
  }
}

// Interrupted: exit normally, so each provider process is killed on the way out (see ServerProcess).
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => process.exit(130));

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error('interop: the matrix could not run:', err);
    process.exit(1);
  },
);
