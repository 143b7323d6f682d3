/**
 * Test-only stand-in for the user's browser, used as `$BROWSER` by the CLI
 * tests: `node browser-cli.js <authorization URL>`. It signs in at the demo
 * provider in Chromium and, when the provider redirects to the private-use
 * scheme, does what the OS would: runs `latchkey handle-url <url>`.
 *
 * LATCHKEY_TEST_LOGIN picks the user (default "demo"); LATCHKEY_TEST_CONSENT=deny
 * cancels at the consent page; LATCHKEY_TEST_BROWSER_LOG names a file for a trace.
 */
import { spawnSync } from 'node:child_process';
import { appendFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { launchBrowser, signInAtProvider } from './browser.js';

const url = process.argv[2];
const trace = (line: string) => {
  if (process.env.LATCHKEY_TEST_BROWSER_LOG) appendFileSync(process.env.LATCHKEY_TEST_BROWSER_LOG, `${new Date().toISOString()} ${line}\n`);
};
if (!url) {
  process.stderr.write('usage: browser-cli <url>\n');
  process.exit(2);
}
const browser = await launchBrowser();
try {
  const page = await browser.newPage();
  const result = await signInAtProvider(page, url, {
    login: process.env.LATCHKEY_TEST_LOGIN ?? 'demo',
    consent: process.env.LATCHKEY_TEST_CONSENT !== 'deny',
  });
  trace(`signed in; login form: ${result.sawLoginForm}; redirect scheme: ${new URL(result.redirectUrl).protocol}`);
  if (!result.redirectUrl.startsWith('http')) {
    const cli = fileURLToPath(new URL('../cli/entry.js', import.meta.url));
    const r = spawnSync(process.execPath, [cli, 'handle-url', result.redirectUrl], { encoding: 'utf8', env: process.env, timeout: 30_000 });
    trace(`handle-url exit ${r.status}: ${r.stderr.trim()}`);
  }
} catch (err) {
  trace(`failed: ${(err as Error).message}`);
  process.exitCode = 1;
} finally {
  await browser.close();
}
