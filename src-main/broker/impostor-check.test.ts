/**
 * The impostor check on its own: which remembered grants make a request
 * suspicious, and what the warning says. The broker and every prompter show
 * this one result (see consent-trust.test.ts for the whole path).
 */
import { describe, expect, it } from 'vitest';
import type { GrantRecord } from '../store/vault-document.js';
import { generateAppKey, keyFingerprint } from './app-key.js';
import { impostorWarning, type AskingApp } from './impostor-check.js';

const notesKey = generateAppKey().publicKey;
const otherKey = generateAppKey().publicKey;
const SHA_A = 'a'.repeat(64);
const SHA_B = 'b'.repeat(64);

function grant(overrides: Partial<GrantRecord> = {}): GrantRecord {
  return { id: 'g1', appId: 'com.example.notes', appName: 'Example Notes', publicKey: notesKey, account: 'acct-1', scope: 'email', mode: 'always', createdAt: 1, ...overrides };
}

function asking(overrides: Partial<AskingApp> = {}): AskingApp {
  return { appId: 'com.example.notes', name: 'Example Notes', publicKey: notesKey, ...overrides };
}

describe('impostorWarning', () => {
  it('nothing allowed yet, or the same app (id, key, program) asking for more: no warning', () => {
    expect(impostorWarning([], asking())).toBeUndefined();
    expect(impostorWarning([grant()], asking())).toBeUndefined();
    const pinned = grant({ exePath: '/usr/bin/notes', exeSha256: SHA_A });
    expect(impostorWarning([pinned], asking({ process: { exePath: '/usr/bin/notes', exeSha256: SHA_A } }))).toBeUndefined();
  });

  it('same app id, another key: key_changed, naming the key that was allowed', () => {
    const w = impostorWarning([grant()], asking({ publicKey: otherKey }));
    expect(w).toEqual({
      kind: 'key_changed',
      message: `com.example.notes was allowed before with a different key (${keyFingerprint(notesKey)}); this may be another program pretending to be it.`,
    });
  });

  it('a key allowed alongside another one (two installs) is not a change', () => {
    expect(impostorWarning([grant(), grant({ id: 'g2', publicKey: otherKey })], asking({ publicKey: otherKey }))).toBeUndefined();
  });

  it('same id and key, another program (hash or path), or a program that cannot be seen: executable_changed', () => {
    const pinned = grant({ exePath: '/usr/bin/notes', exeSha256: SHA_A });
    const changedHash = impostorWarning([pinned], asking({ process: { exePath: '/usr/bin/notes', exeSha256: SHA_B } }));
    expect(changedHash).toMatchObject({ kind: 'executable_changed', message: expect.stringContaining('was allowed before as the program /usr/bin/notes (SHA-256 aaaaaaaaaaaa…); this program (/usr/bin/notes, SHA-256 bbbbbbbbbbbb…) is not that one') });
    expect(impostorWarning([pinned], asking({ process: { exePath: '/tmp/notes', exeSha256: SHA_A } }))).toMatchObject({ kind: 'executable_changed', message: expect.stringContaining('(/tmp/notes,') });
    expect(impostorWarning([pinned], asking())).toMatchObject({ kind: 'executable_changed', message: expect.stringContaining('the program asking now cannot be checked') });
    expect(changedHash!.message).toMatch(/may be another program pretending to be it\.$/);
  });

  it('a new app id claiming the name of an allowed app (case and spacing aside): name_clash', () => {
    for (const name of ['Example Notes', ' example  NOTES ']) {
      const w = impostorWarning([grant()], asking({ appId: 'com.evil.notes', name, publicKey: otherKey }));
      expect(w).toEqual({
        kind: 'name_clash',
        message: `Another app already uses the name "Example Notes": com.example.notes (key ${keyFingerprint(notesKey)}) is allowed; this is a different app, which may be pretending to be it.`,
      });
    }
    expect(impostorWarning([grant()], asking({ appId: 'com.example.todo', name: 'Example Todo', publicKey: otherKey }))).toBeUndefined();
  });

  it('the most telling warning wins: a changed key over a borrowed name', () => {
    const grants = [grant(), grant({ id: 'g2', appId: 'com.example.other', appName: 'Example Notes', publicKey: otherKey })];
    expect(impostorWarning(grants, asking({ publicKey: generateAppKey().publicKey }))?.kind).toBe('key_changed');
  });
});
