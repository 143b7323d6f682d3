/**
 * The short form of an app key fingerprint for lists (activity, connected
 * apps), where the full one would crowd out everything else. Enough to tell
 * two keys apart at a glance; the prompt and `latchkey apps --json` show the
 * full one. No dependencies, so the renderer bundles it too.
 */
export function shortFingerprint(fingerprint: string): string {
  const [algorithm, digest] = fingerprint.includes(':') ? fingerprint.split(':', 2) : ['', fingerprint];
  return digest!.length > 12 ? `${algorithm ? `${algorithm}:` : ''}${digest!.slice(0, 12)}…` : fingerprint;
}
