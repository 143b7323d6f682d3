/**
 * `npm start`: launches the desktop app with the Electron binary from
 * node_modules, or says clearly why it cannot (install scripts are off in
 * .npmrc, so the binary comes only with `npm run fetch-electron`).
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

/** The Electron executable, or undefined when the package has no binary here. */
export function electronBinary(): string | undefined {
  const require = createRequire(import.meta.url);
  try {
    const electronDir = join(require.resolve('electron/package.json'), '..');
    if (!existsSync(join(electronDir, 'path.txt'))) return undefined;
    const path = require('electron') as unknown as string;
    return typeof path === 'string' && existsSync(path) ? path : undefined;
  } catch {
    return undefined;
  }
}

export const ELECTRON_MISSING =
  'The Electron binary is not installed (`npm ci` does not download it). ' +
  'Download it with `npm run fetch-electron`, then run `npm start` again. ' +
  'Without it, use the CLI and the headless agent: `latchkey demo`.';

if (import.meta.url === `file://${process.argv[1]}`) {
  const binary = electronBinary();
  if (!binary) {
    process.stderr.write(`latchkey: cannot start the desktop app. ${ELECTRON_MISSING}\n`);
    process.exit(2);
  }
  const root = join(import.meta.dirname, '..', '..', '..');
  const child = spawn(binary, [root, ...process.argv.slice(2)], { stdio: 'inherit' });
  child.on('exit', (code) => process.exit(code ?? 1));
}
