/**
 * Who may call the desktop API over IPC: only the app's own renderer page,
 * loaded from the packaged file, in its main frame. Checked in the one IPC
 * handler before anything else (after GitHub Desktop's `isTrustedIPCSender`).
 *
 * What it enforces:
 * - the sender frame's URL must be exactly the renderer's `index.html`
 *   (file: URL, any #view fragment); other files, other schemes (https:,
 *   devtools:, data:) and query strings are refused;
 * - a frame that is gone (null, or navigated away) is refused;
 * - child frames are refused even when they load the same file.
 */
export interface SenderFrame {
  url: string;
  /** Whether this is the top frame of its page. */
  isMainFrame: boolean;
}

export function isTrustedSender(frame: SenderFrame | null | undefined, rendererUrl: string): boolean {
  if (!frame || !frame.isMainFrame) return false;
  const url = URL.parse(frame.url);
  const expected = URL.parse(rendererUrl);
  if (!url || !expected || url.protocol !== 'file:' || expected.protocol !== 'file:') return false;
  return url.host === expected.host && url.pathname === expected.pathname && url.search === '';
}

/** Navigation inside the window: only between the renderer's own views (fragments). */
export function isAllowedNavigation(target: string, rendererUrl: string): boolean {
  return isTrustedSender({ url: target, isMainFrame: true }, rendererUrl);
}
