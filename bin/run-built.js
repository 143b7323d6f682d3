// Shared by the bin/ launchers: the commands are compiled to dist/ by `npm run build` (`npm ci` runs no scripts: see .npmrc).
export function runBuilt(name, load) {
  load().catch((err) => {
    if (err && err.code === 'ERR_MODULE_NOT_FOUND') {
      process.stderr.write(`${name}: not built yet. Run \`npm run build\` in the Latchkey folder first.\n`);
      process.exit(70);
    }
    throw err;
  });
}
