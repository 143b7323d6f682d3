/**
 * The consent prompters on their own: the agent's terminal (over in-memory
 * streams), the desktop dialog (argv and exit codes, and a stand-in dialog
 * tool run for real), the chain, and the policy rules.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { chmod, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import type { AccountSummary } from '../engine/accounts.js';
import { appClaimsSchema } from './app-identity.js';
import { generateAppKey, keyFingerprint } from './app-key.js';
import { ChainPrompter, consentText, describeScopes, type ConsentDecision, type ConsentPrompter, type ConsentRequest } from './consent-prompter.js';
import { detectDialogTool, dialogCommand, DialogPrompter } from './dialog-prompter.js';
import { loadPolicy, PolicyFilePrompter, policyStatus, PolicyPrompter, type Policy } from './policy-prompter.js';
import { captureLog } from '../testing/capture-log.js';
import { suiteTempDir } from '../testing/test-home.js';
import { TerminalPrompter } from './terminal-prompter.js';

const FINGERPRINT = keyFingerprint(generateAppKey().publicKey);
const EXE_SHA = 'ab'.repeat(32);

function account(n: number): AccountSummary {
  return { id: `acct-${n}`, provider: 'work', subject: `user-${n}`, email: `user${n}@example.test`, status: 'active', scope: 'openid email' };
}

function request(overrides: Partial<Omit<ConsentRequest, 'app'>> & { app?: Partial<ConsentRequest['app']> } = {}): ConsentRequest {
  const { app, ...rest } = overrides;
  return {
    app: { id: 'com.example.tool', name: 'Example Tool', version: '1.2.0', fingerprint: FINGERPRINT, exePath: '/usr/bin/example-tool', exeSha256: EXE_SHA, ...app },
    provider: 'work',
    accounts: [account(1)],
    scope: 'email openid',
    timeoutMs: 30_000,
    ...rest,
  };
}

/** The agent's terminal as two in-memory streams; answers are typed only once the question is on screen. */
class FakeTerminal {
  readonly input = new PassThrough();
  readonly output = new PassThrough();
  text = '';
  constructor() {
    this.output.on('data', (chunk: Buffer) => (this.text += chunk.toString('utf8')));
  }

  /** Waits until `marker` has been printed `times` times in all, then types `line`. */
  async answer(marker: string, times: number, line: string): Promise<void> {
    await until(() => this.text.split(marker).length - 1 >= times, `"${marker}" shown ${times} time(s)`);
    this.input.write(`${line}\n`);
  }
}

const QUESTION = 'Allow [o]nce, [a]lways, or [d]eny?';

describe('TerminalPrompter', () => {
  it.each([
    ['o', { decision: 'once', account: 'acct-1' }],
    ['a', { decision: 'always', account: 'acct-1' }],
    ['Always', { decision: 'always', account: 'acct-1' }],
    ['d', { decision: 'deny' }],
  ] as const)('answer %j gives %j', async (typed, expected) => {
    const term = new FakeTerminal();
    const prompter = new TerminalPrompter(term.input, term.output);
    const decision = prompter.prompt(request(), new AbortController().signal);
    await term.answer(QUESTION, 1, typed);
    expect(await decision).toEqual(expected);
  });

  it('without an account yet, "always" carries no account (a sign-in follows)', async () => {
    const term = new FakeTerminal();
    const decision = new TerminalPrompter(term.input, term.output).prompt(request({ accounts: [] }), new AbortController().signal);
    await term.answer(QUESTION, 1, 'a');
    expect(await decision).toEqual({ decision: 'always' });
  });

  it('three answers it cannot read deny', async () => {
    const term = new FakeTerminal();
    const decision = new TerminalPrompter(term.input, term.output).prompt(request(), new AbortController().signal);
    for (const [i, garbage] of ['yes', '', 'please'].entries()) await term.answer(QUESTION, i + 1, garbage);
    expect(await decision).toEqual({ decision: 'deny', reason: 'No valid answer.' });
    expect(term.text.split(QUESTION).length - 1).toBe(3);
  });

  it('with several accounts, the person picks one by number; an out-of-range number denies', async () => {
    // Regression: the line reader was closed while the account question was open, so the pick never arrived
    // and every multi-account prompt ran into its deadline. A short deadline keeps that failure quick.
    const accounts = [account(1), account(2), account(3)];
    const term = new FakeTerminal();
    const prompter = new TerminalPrompter(term.input, term.output);
    const picked = prompter.prompt(request({ accounts }), AbortSignal.timeout(5000));
    await term.answer(QUESTION, 1, 'a');
    await term.answer('Which account?', 1, '2');
    expect(await picked).toEqual({ decision: 'always', account: 'acct-2' });
    expect(term.text).toContain('  2. user2@example.test (acct-2)\n');

    const wrong = prompter.prompt(request({ accounts }), AbortSignal.timeout(5000));
    await term.answer(QUESTION, 2, 'o');
    await term.answer('Which account?', 2, '9');
    expect(await wrong).toEqual({ decision: 'deny', reason: 'No account chosen.' });
  });

  it('no answer before the deadline denies; the prompt names the app, its key, its program and the scopes in plain words', async () => {
    const term = new FakeTerminal();
    const controller = new AbortController();
    const decision = new TerminalPrompter(term.input, term.output).prompt(request({ scope: 'openid email api:read' }), controller.signal);
    await until(() => term.text.includes(QUESTION), 'the question');
    controller.abort();
    expect(await decision).toEqual({ decision: 'deny', reason: 'The consent prompt timed out.' });
    expect(term.text).toContain('"Example Tool" (app id com.example.tool, version 1.2.0)');
    expect(term.text).toContain(FINGERPRINT);
    expect(term.text).toContain('program /usr/bin/example-tool');
    expect(term.text).toContain('see your email address');
    expect(term.text).toContain('know who you are');
    expect(term.text).toContain('read your api data ("api:read")');
    expect(term.text).toContain('(denied in 30 s)');
    expect(term.text).toContain('No answer: denied.');
  });

  it('with an impostor warning: the warning comes first, Deny is offered first and a bare Enter denies', async () => {
    const warning = { kind: 'key_changed' as const, message: 'com.example.tool was allowed before with a different key (SHA256:old); this may be another program pretending to be it.' };
    const term = new FakeTerminal();
    const decision = new TerminalPrompter(term.input, term.output).prompt(request({ warning }), new AbortController().signal);
    await term.answer('[D]eny (Enter), allow [o]nce, or [a]lways?', 1, '');
    expect(await decision).toEqual({ decision: 'deny' });
    expect(term.text).toContain('WARNING, this may not be the app you allowed');
    expect(term.text.indexOf(`WARNING: ${warning.message}`)).toBeLessThan(term.text.indexOf('wants to use'));
    // Allowing is still possible, deliberately.
    const term2 = new FakeTerminal();
    const allowed = new TerminalPrompter(term2.input, term2.output).prompt(request({ warning }), new AbortController().signal);
    await term2.answer('[D]eny (Enter)', 1, 'o');
    expect(await allowed).toEqual({ decision: 'once', account: 'acct-1' });
  });

  it('an already expired prompt denies without asking', async () => {
    const term = new FakeTerminal();
    expect(await new TerminalPrompter(term.input, term.output).prompt(request(), AbortSignal.abort())).toEqual({ decision: 'deny', reason: 'The consent prompt timed out.' });
    expect(term.text).toBe('');
  });

  it('asks one question at a time: a second app waits until the first is answered', async () => {
    const term = new FakeTerminal();
    const prompter = new TerminalPrompter(term.input, term.output);
    const first = prompter.prompt(request(), new AbortController().signal);
    const second = prompter.prompt(request({ app: { id: 'com.example.other', name: 'Other' } }), new AbortController().signal);
    await until(() => term.text.includes(QUESTION), 'the first question');
    await new Promise((r) => setTimeout(r, 50));
    expect(term.text).not.toContain('"Other"');
    term.input.write('d\n');
    expect(await first).toEqual({ decision: 'deny' });
    await term.answer(QUESTION, 2, 'o');
    expect(await second).toEqual({ decision: 'once', account: 'acct-1' });
    expect(term.text.indexOf('"Other"')).toBeGreaterThan(term.text.indexOf('"Example Tool"'));
  });
});

describe('consentText and describeScopes', () => {
  it('says every scope in plain words, quoting the ones it does not know', () => {
    expect(describeScopes('openid profile email offline_access address phone')).toEqual([
      'see your postal address',
      'see your email address',
      'stay signed in while you are away',
      'know who you are',
      'see your phone number',
      'see your name and picture',
    ]);
    expect(describeScopes('api:read api:write https://x.test/thing')).toEqual(['read your api data ("api:read")', 'change your api data ("api:write")', 'use the permission "https://x.test/thing"']);
  });

  it('one paragraph: who asks (as claimed), which account, what for, and what is verified', () => {
    expect(consentText(request({ resource: 'https://api.example.test/' }))).toBe(
      [
        '"Example Tool" (app id com.example.tool, version 1.2.0) wants to use your work account user1@example.test for https://api.example.test/ to:',
        '  • see your email address',
        '  • know who you are',
        `Verified: key ${FINGERPRINT}, program /usr/bin/example-tool. The name is as the app claims it.`,
      ].join('\n'),
    );
    // No account yet, no program known (not Linux): only what is verified is named.
    expect(consentText(request({ accounts: [], app: { exePath: undefined, version: undefined } }))).toBe(
      ['"Example Tool" (app id com.example.tool) wants to use your work account to:', '  • see your email address', '  • know who you are', `Verified: key ${FINGERPRINT}. The name is as the app claims it.`].join('\n'),
    );
  });

  it('a claimed name with bidi, zero-width or control characters never reaches a prompt: the hello schema refuses it', () => {
    const claims = { appId: 'com.example.tool', version: '1.0', publicKey: 'k' };
    for (const name of ['Tool\u202eexe.txt', 'Tool\u2066x', 'Zero\u200bwidth', 'Line\nbreak', 'Bell\u0007', 'Sep\u2028x', ' padded', 'e\u0301']) {
      expect(appClaimsSchema.safeParse({ ...claims, name }).success, JSON.stringify(name)).toBe(false);
    }
    expect(appClaimsSchema.safeParse({ ...claims, name: 'Café Tool — Ünïcode 工具' }).success).toBe(true);
  });
});

describe('dialogCommand', () => {
  const hostile = 'Evil $(rm -rf /); echo `id` | sh && "quoted" \'single\'';

  it('zenity: the whole text is one argument, with markup off; nothing is for a shell', () => {
    const r = request({ app: { name: hostile } });
    const { args } = dialogCommand('zenity', r);
    expect(args).toEqual(['--question', '--title=Latchkey', `--text=${consentText(r)}`, '--no-markup', '--default-cancel', '--ok-label=Allow once', '--cancel-label=Deny', '--extra-button=Always allow', '--timeout=30']);
    expect(args.filter((a) => a.includes('$(rm -rf /)'))).toHaveLength(1);
  });

  it('kdialog: a menu whose first and default entry is Deny; the text is one argument, whole', () => {
    const r = request({ app: { name: hostile } });
    const { args } = dialogCommand('kdialog', r);
    expect(args).toEqual(['--title', 'Latchkey', '--menu', consentText(r), 'deny', 'Deny', 'once', 'Allow once', 'always', 'Always allow', '--default', 'Deny']);
  });

  it('Enter means Deny in both tools: zenity defaults to its cancel button, kdialog\'s current entry is Deny', () => {
    // zenity's Enter activates the default button; --default-cancel makes that "Deny", never "Always allow".
    expect(dialogCommand('zenity', request()).args).toContain('--default-cancel');
    const kd = dialogCommand('kdialog', request()).args;
    expect(kd.slice(kd.indexOf('--menu') + 2, kd.indexOf('--menu') + 4)).toEqual(['deny', 'Deny']);
    expect(kd.slice(kd.indexOf('--default'))).toEqual(['--default', 'Deny']);
    expect(kd).not.toContain('--yesnocancel');
  });

  it('an impostor warning leads the text and the title in both tools', () => {
    const warning = { kind: 'key_changed' as const, message: 'com.example.tool was allowed before with a different key (SHA256:old); this may be another program pretending to be it.' };
    for (const tool of ['zenity', 'kdialog'] as const) {
      const joined = dialogCommand(tool, request({ warning })).args.join('\n');
      expect(joined).toContain(`WARNING: ${warning.message}`);
      expect(joined).toMatch(/Latchkey: WARNING/);
    }
  });

  it('zenity exit codes: 0 once, 1 with the extra button always, 1 deny, 5 timed out; the only account is named', () => {
    const { decide } = dialogCommand('zenity', request());
    expect(decide(0, '')).toEqual({ decision: 'once', account: 'acct-1' });
    expect(decide(1, 'Always allow\n')).toEqual({ decision: 'always', account: 'acct-1' });
    expect(decide(1, '')).toEqual({ decision: 'deny', reason: 'Denied.' });
    expect(decide(5, '')).toEqual({ decision: 'deny', reason: 'The consent prompt timed out.' });
    expect(decide(null, '')).toEqual({ decision: 'deny', reason: 'Denied.' });
    expect(dialogCommand('zenity', request({ accounts: [] })).decide(0, '')).toEqual({ decision: 'once' });
  });

  it('kdialog: the chosen tag decides; cancel (Escape), anything unknown or no choice denies', () => {
    const { decide } = dialogCommand('kdialog', request());
    expect(decide(0, 'always\n')).toEqual({ decision: 'always', account: 'acct-1' });
    expect(decide(0, 'once\n')).toEqual({ decision: 'once', account: 'acct-1' });
    expect(decide(0, 'deny\n')).toEqual({ decision: 'deny', reason: 'Denied.' });
    expect(decide(0, '')).toEqual({ decision: 'deny', reason: 'Denied.' });
    expect(decide(1, 'always\n')).toEqual({ decision: 'deny', reason: 'Denied.' });
    expect(decide(null, '')).toEqual({ decision: 'deny', reason: 'Denied.' });
  });

  it('the timeout is given to the tool in whole seconds, at least one', () => {
    expect(dialogCommand('zenity', request({ timeoutMs: 200 })).args).toContain('--timeout=1');
  });
});

describe('DialogPrompter with a stand-in dialog tool', () => {
  const suiteDir = suiteTempDir('latchkey-dialog-');
  let dir: string;
  let tool: string;

  beforeAll(async () => {
    dir = suiteDir();
    tool = join(dir, 'zenity');
    // Records its argv (NUL-separated, so a split argument would show) and exits as told.
    await writeFile(
      tool,
      ['#!/bin/sh', 'printf "%s\\0" "$@" > "$FAKE_ARGV"', 'printf "%s" "$FAKE_STDOUT"', 'if [ -n "$FAKE_SLEEP" ]; then exec sleep "$FAKE_SLEEP"; fi', 'exit "$FAKE_EXIT"', ''].join('\n'),
    );
    await chmod(tool, 0o755);
    await writeFile(join(dir, 'kdialog'), '#!/bin/sh\nexit 0\n');
    await chmod(join(dir, 'kdialog'), 0o755);
  });

  function prompter(fake: Record<string, string>): DialogPrompter {
    return new DialogPrompter({ tool: 'zenity', path: tool }, { FAKE_ARGV: join(dir, 'argv'), FAKE_EXIT: '0', FAKE_STDOUT: '', ...fake });
  }

  it('is found only with a display and the tool on PATH, zenity first', () => {
    expect(detectDialogTool({ PATH: dir })).toBeUndefined();
    expect(detectDialogTool({ PATH: dir, DISPLAY: ':99' })).toEqual({ tool: 'zenity', path: tool });
    expect(detectDialogTool({ PATH: `/nonexistent:${dir}`, WAYLAND_DISPLAY: 'wayland-0' })).toEqual({ tool: 'zenity', path: tool });
    expect(detectDialogTool({ PATH: '/nonexistent', DISPLAY: ':99' })).toBeUndefined();
  });

  it('the hostile name arrives as part of one argument and runs nothing', async () => {
    const marker = join(dir, 'pwned');
    const name = `Evil $(touch ${marker}); touch ${marker} \`touch ${marker}\``;
    const r = request({ app: { name } });
    expect(await prompter({}).prompt(r, new AbortController().signal)).toEqual({ decision: 'once', account: 'acct-1' });
    const argv = (await readFile(join(dir, 'argv'), 'utf8')).split('\0').slice(0, -1);
    expect(argv).toEqual(dialogCommand('zenity', r).args);
    await expect(readFile(marker)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('reads the exit status back: the extra button is "always", cancel is deny', async () => {
    const signal = new AbortController().signal;
    expect(await prompter({ FAKE_EXIT: '1', FAKE_STDOUT: 'Always allow\n' }).prompt(request(), signal)).toEqual({ decision: 'always', account: 'acct-1' });
    expect(await prompter({ FAKE_EXIT: '1' }).prompt(request(), signal)).toEqual({ decision: 'deny', reason: 'Denied.' });
    expect(await prompter({ FAKE_EXIT: '5' }).prompt(request(), signal)).toEqual({ decision: 'deny', reason: 'The consent prompt timed out.' });
  });

  it('the deadline closes the dialog and denies', async () => {
    const controller = new AbortController();
    const started = Date.now();
    const decision = prompter({ FAKE_SLEEP: '30' }).prompt(request(), controller.signal);
    setTimeout(() => controller.abort(), 200);
    expect(await decision).toEqual({ decision: 'deny', reason: 'The consent prompt timed out.' });
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('has no opinion when it cannot choose among several accounts, or the tool does not start', async () => {
    const signal = new AbortController().signal;
    expect(await prompter({}).prompt(request({ accounts: [account(1), account(2)] }), signal)).toBeUndefined();
    expect(await new DialogPrompter({ tool: 'zenity', path: join(dir, 'missing') }, {}).prompt(request(), signal)).toBeUndefined();
  });
});

describe('ChainPrompter', () => {
  function fixed(name: string, decision: ConsentDecision | undefined, calls: string[]): ConsentPrompter {
    return {
      name,
      prompt: async () => {
        calls.push(name);
        return decision;
      },
    };
  }

  it('asks in order and stops at the first answer', async () => {
    const calls: string[] = [];
    const chain = new ChainPrompter([fixed('policy', undefined, calls), fixed('terminal', { decision: 'once' }, calls), fixed('dialog', { decision: 'always' }, calls)]);
    expect(chain.name).toBe('policy → terminal → dialog');
    expect(await chain.prompt(request(), new AbortController().signal)).toEqual({ decision: 'once' });
    expect(calls).toEqual(['policy', 'terminal']);
  });

  it('a denial is an answer too: later prompters are not asked', async () => {
    const calls: string[] = [];
    const chain = new ChainPrompter([fixed('policy', { decision: 'deny', reason: 'Denied by the policy file.' }, calls), fixed('terminal', { decision: 'always' }, calls)]);
    expect(await chain.prompt(request(), new AbortController().signal)).toEqual({ decision: 'deny', reason: 'Denied by the policy file.' });
    expect(calls).toEqual(['policy']);
  });

  it('no prompter with an answer (or none at all) is a denial that says how to fix it', async () => {
    const calls: string[] = [];
    const none = new ChainPrompter([]);
    expect(none.name).toBe('none');
    for (const chain of [none, new ChainPrompter([fixed('policy', undefined, calls)])]) {
      const decision = await chain.prompt(request(), new AbortController().signal);
      expect(decision).toMatchObject({ decision: 'deny', reason: expect.stringMatching(/no way to ask you here .*policy file.*terminal/) });
    }
    expect(calls).toEqual(['policy']);
  });
});

describe('PolicyPrompter', () => {
  const base = { app: 'com.example.tool', keyFingerprint: FINGERPRINT, scope: 'openid email profile', decision: 'always' } as const;
  const ask = (policy: Policy, r: ConsentRequest = request()) => new PolicyPrompter(policy).prompt(r);

  it('an "allow" rule naming no account never picks one of several: the person is asked which', async () => {
    const two = request({ accounts: [account(1), account(2)] });
    expect(await ask({ rules: [base] }, two)).toBeUndefined();
    expect(await ask({ rules: [{ ...base, account: 'user2@example.test' }] }, two)).toEqual({ decision: 'always', account: 'acct-2' });
    expect(await ask({ rules: [{ ...base, decision: 'deny' }] }, two)).toEqual({ decision: 'deny', reason: 'Denied by the policy file.' });
  });

  it('a rule covers a request when app, key and scope (a subset) match', async () => {
    expect(await ask({ rules: [base] })).toEqual({ decision: 'always' });
    expect(await ask({ rules: [{ ...base, decision: 'once' }] }, request({ scope: 'email' }))).toEqual({ decision: 'once' });
  });

  it('each field a rule names must match, or the request falls through', async () => {
    const otherKey = keyFingerprint(generateAppKey().publicKey);
    const misses: Array<[string, Policy['rules'][number], ConsentRequest]> = [
      ['another app id', { ...base, app: 'com.example.other' }, request()],
      ['another key', { ...base, keyFingerprint: otherKey }, request()],
      ['a wider scope', base, request({ scope: 'openid email api:write' })],
      ['another executable', { ...base, exeSha256: 'cd'.repeat(32) }, request()],
      ['an unknown executable', { ...base, exeSha256: EXE_SHA }, request({ app: { exeSha256: undefined, exePath: undefined } })],
      ['another provider', { ...base, provider: 'home' }, request()],
      ['a resource the rule does not name', base, request({ resource: 'https://api.example.test/' })],
      ['no resource where the rule names one', { ...base, resource: 'https://api.example.test/' }, request()],
      ['an account that is not among the candidates', { ...base, account: 'someone@else.test' }, request()],
    ];
    for (const [what, rule, r] of misses) expect(await ask({ rules: [rule] }, r), what).toBeUndefined();
  });

  it('pinned fields that match: executable, provider, resource, account by id or email (the account id is returned)', async () => {
    const resource = 'https://api.example.test/';
    const accounts = [account(1), account(2)];
    const rule = { ...base, exeSha256: EXE_SHA, provider: 'work', resource, account: 'user2@example.test' };
    expect(await ask({ rules: [rule] }, request({ resource, accounts }))).toEqual({ decision: 'always', account: 'acct-2' });
    expect(await ask({ rules: [{ ...rule, account: 'acct-1' }] }, request({ resource, accounts }))).toEqual({ decision: 'always', account: 'acct-1' });
  });

  it('a rule names its account by the one account lookup: email and user name ignoring case; a name two offered accounts share names none', async () => {
    const accounts = [account(1), { ...account(2), username: 'Bob' }];
    const r = request({ accounts });
    // Before the shared lookup the policy compared emails exactly and knew no user names: these fell through to the person.
    expect(await ask({ rules: [{ ...base, account: 'User2@Example.TEST' }] }, r)).toEqual({ decision: 'always', account: 'acct-2' });
    expect(await ask({ rules: [{ ...base, account: 'bob' }] }, r)).toEqual({ decision: 'always', account: 'acct-2' });
    // Two offered accounts with one email (two subjects at one provider): the rule does not guess.
    const twins = request({ accounts: [account(1), { ...account(2), email: 'user1@example.test' }] });
    expect(await ask({ rules: [{ ...base, account: 'user1@example.test' }] }, twins)).toBeUndefined();
    expect(await ask({ rules: [{ ...base, account: 'acct-2' }] }, twins)).toEqual({ decision: 'always', account: 'acct-2' });
  });

  it('a "deny" rule denies with a reason; the first matching rule wins', async () => {
    expect(await ask({ rules: [{ ...base, decision: 'deny' }] })).toEqual({ decision: 'deny', reason: 'Denied by the policy file.' });
    expect(await ask({ rules: [{ ...base, decision: 'deny' }, base] })).toEqual({ decision: 'deny', reason: 'Denied by the policy file.' });
    expect(await ask({ rules: [{ ...base, app: 'com.example.other', decision: 'deny' }, base] })).toEqual({ decision: 'always' });
  });
});

describe('the policy file', () => {
  const suiteDir = suiteTempDir('latchkey-policy-');
  let dir: string;
  let path: string;

  beforeAll(() => {
    dir = suiteDir();
    path = join(dir, 'policy.json');
  });

  it('no file: no policy, and the prompter has no opinion', async () => {
    expect(await loadPolicy(path)).toBeUndefined();
    expect(await new PolicyFilePrompter(path).prompt(request())).toBeUndefined();
  });

  it('reports every error at once, each with its path', async () => {
    const rule = { app: 'com.example.tool', keyFingerprint: FINGERPRINT, scope: 'email', decision: 'once' };
    await writeFile(path, JSON.stringify({ rules: [{ ...rule, decision: 'sometimes' }, { app: 'com.example.other', decision: 'always' }, { ...rule, exeSha256: 'XYZ' }] }));
    const err = await loadPolicy(path).then(() => undefined, (e: Error) => e);
    expect(err).toMatchObject({ code: 'config_invalid', message: expect.stringContaining('(4 errors)') });
    for (const where of ['rules.0.decision', 'rules.1.keyFingerprint', 'rules.1.scope', 'rules.2.exeSha256']) expect(err!.message).toContain(`at ${where}:`);
  });

  it('refuses what it does not understand with config_invalid and where', async () => {
    const rule = { app: 'com.example.tool', keyFingerprint: FINGERPRINT, scope: 'email', decision: 'once' };
    const cases: Array<[string, RegExp]> = [
      ['{ nope', /is not valid JSON/],
      [JSON.stringify({ rules: [{ ...rule, keyFingerprint: 'MD5:abc' }] }), /not valid \(1 error\): at rules\.0\.keyFingerprint/],
      [JSON.stringify({ rules: [{ ...rule, exeSha256: 'ABC' }] }), /at rules\.0\.exeSha256/],
      [JSON.stringify({ rules: [{ ...rule, decison: 'deny' }] }), /at rules\.0: .*\(decison\)/],
      [JSON.stringify({ rules: [rule], extra: true }), /at \(top level\): .*\(extra\)/],
    ];
    for (const [text, message] of cases) {
      await writeFile(path, text);
      await expect(loadPolicy(path), text).rejects.toMatchObject({ code: 'config_invalid', message: expect.stringMatching(message) });
    }
  });

  it('is read again at each prompt; a broken file is ignored with a warning and the person is asked', async () => {
    const { logger, lines } = captureLog();
    const prompter = new PolicyFilePrompter(path, logger);
    await writeFile(path, JSON.stringify({ rules: [{ app: 'com.example.tool', keyFingerprint: FINGERPRINT, scope: 'email', decision: 'once' }] }));
    expect(await prompter.prompt(request({ scope: 'email' }))).toEqual({ decision: 'once' });
    await writeFile(path, JSON.stringify({ rules: [] }));
    expect(await prompter.prompt(request({ scope: 'email' }))).toBeUndefined();
    await writeFile(path, '[');
    expect(await prompter.prompt(request({ scope: 'email' }))).toBeUndefined();
    expect(lines.join('\n')).toContain('the policy file is invalid and was ignored');
    expect(await policyStatus(path)).toEqual({ path, state: 'ignored', error: expect.stringMatching(/is not valid JSON/) });
    // Behind it, the next prompter (the person) answers.
    const person: ConsentPrompter = { name: 'person', prompt: async () => ({ decision: 'deny', reason: 'the person said no' }) };
    expect(await new ChainPrompter([prompter, person]).prompt(request({ scope: 'email' }), new AbortController().signal)).toEqual({ decision: 'deny', reason: 'the person said no' });
  });

  it('status: absent, active with its rule count', async () => {
    await rm(path, { force: true });
    expect(await policyStatus(path)).toEqual({ path, state: 'absent' });
    await writeFile(path, JSON.stringify({ rules: [] }));
    expect(await policyStatus(path)).toEqual({ path, state: 'active', rules: 0 });
  });
});

async function until(predicate: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
