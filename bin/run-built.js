// Shared by the bin/ launchers: the commands are compiled to dist/ by `npm run build` (run by `npm ci` via `prepare`).
export function runBuilt(name, load) {
  load().catch((err) => {
    if (err && err.code === 'ERR_MODULE_NOT_FOUND') {
      process.stderr.write(`${name}: not built yet. Run \`npm ci\` (or \`npm run build\`) in the Latchkey folder first.\n`);
      process.exit(70);
    }
    throw err;
  });
}
