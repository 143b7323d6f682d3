/**
 * Deep links (`dev.latchkey.app:/callback?...`) reaching the desktop app:
 * macOS `open-url`, and on Windows/Linux the argv of a second instance. The
 * shell only parses and forwards them; this decides what is ours and holds
 * them until the engine's scheme router is ready (a link can start the app).
 *
 * What it enforces:
 * - only URLs of our scheme are taken from argv; everything else there
 *   (flags, paths, other URLs) is ignored;
 * - links that arrive before the engine is ready are queued, bounded, and
 *   delivered in order once it is; the oldest are dropped past the bound;
 * - a rejected delivery (unknown `state`, malformed) is reported, never thrown
 *   into the Electron event handler.
 */
const MAX_QUEUED = 16;
const MAX_URL_LENGTH = 8192;

/** The scheme URLs in a second instance's argv (Windows and Linux pass the URL as an argument). */
export function deepLinksFromArgv(argv: readonly string[], scheme: string): string[] {
  const prefix = `${scheme.replace(/:$/, '')}:`.toLowerCase();
  return argv.filter((a) => a.length <= MAX_URL_LENGTH && a.toLowerCase().startsWith(prefix));
}

export class DeepLinkQueue {
  private queued: string[] = [];
  private deliver: ((url: string) => void) | undefined;

  constructor(private readonly onRejected: (url: string, err: unknown) => void) {}

  /** A link arrived; delivered now if the engine is ready, else kept until {@link ready}. */
  accept(url: string): void {
    if (this.deliver) return this.safely(url);
    this.queued.push(url);
    if (this.queued.length > MAX_QUEUED) this.queued.shift();
  }

  /** The engine is ready: deliver what waited, and everything from now on. */
  ready(deliver: (url: string) => void): void {
    this.deliver = deliver;
    const waiting = this.queued;
    this.queued = [];
    for (const url of waiting) this.safely(url);
  }

  get pending(): number {
    return this.queued.length;
  }

  private safely(url: string): void {
    try {
      this.deliver!(url);
    } catch (err) {
      this.onRejected(url, err);
    }
  }
}
