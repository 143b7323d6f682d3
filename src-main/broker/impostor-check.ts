/**
 * Whether the app asking for consent looks like another program pretending to
 * be one the person already allowed. This is the moment the prompt exists for,
 * so the broker works it out once and every prompter shows the same warning.
 *
 * What it reports, most telling first:
 * - `key_changed`: the app id was allowed with another key, and never with this one;
 * - `executable_changed` (Linux): the app id and key were allowed for another
 *   program (path or SHA-256), or for a program that cannot be seen now;
 * - `name_clash`: another app id, allowed before, claims the same display name.
 */
import type { GrantRecord } from '../store/vault-document.js';
import { keyFingerprint } from './app-key.js';

export type ConsentWarningKind = 'key_changed' | 'executable_changed' | 'name_clash';

export interface ConsentWarning {
  kind: ConsentWarningKind;
  /** One or two sentences for the prompt; ends by saying it may be an impostor. */
  message: string;
}

/** What the check needs to know about the app asking now. */
export interface AskingApp {
  appId: string;
  name: string;
  publicKey: string;
  process?: { exePath: string; exeSha256: string };
}

/** The warning for this request, given the remembered grants; `undefined` when nothing is suspicious. */
export function impostorWarning(grants: readonly GrantRecord[], app: AskingApp): ConsentWarning | undefined {
  const sameId = grants.filter((g) => g.appId === app.appId);
  const sameKey = sameId.filter((g) => g.publicKey === app.publicKey);
  if (sameId.length && !sameKey.length) {
    return {
      kind: 'key_changed',
      message: `${app.appId} was allowed before with a different key (${keyFingerprint(sameId[0]!.publicKey)}); this may be another program pretending to be it.`,
    };
  }
  const pinned = sameKey.filter((g) => g.exeSha256);
  const sameProgram = pinned.some((g) => app.process && g.exeSha256 === app.process.exeSha256 && g.exePath === app.process.exePath);
  if (pinned.length && !sameProgram) {
    const before = pinned[0]!;
    const now = app.process ? `this program (${app.process.exePath}, SHA-256 ${short(app.process.exeSha256)}) is not that one` : 'the program asking now cannot be checked';
    return {
      kind: 'executable_changed',
      message: `${app.appId} was allowed before as the program ${before.exePath} (SHA-256 ${short(before.exeSha256!)}); ${now}, so this may be another program pretending to be it.`,
    };
  }
  const claimed = normaliseName(app.name);
  const namesake = grants.find((g) => g.appId !== app.appId && normaliseName(g.appName) === claimed);
  if (namesake) {
    return {
      kind: 'name_clash',
      message: `Another app already uses the name "${namesake.appName}": ${namesake.appId} (key ${keyFingerprint(namesake.publicKey)}) is allowed; this is a different app, which may be pretending to be it.`,
    };
  }
  return undefined;
}

function short(sha256: string): string {
  return `${sha256.slice(0, 12)}…`;
}

/** "Example Notes" and "example  notes " are the same name to a person reading a prompt. */
function normaliseName(name: string): string {
  return name.normalize('NFKC').trim().replace(/\s+/g, ' ').toLowerCase();
}
