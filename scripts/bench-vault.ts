/**
 * A vault with many synthetic accounts (valid per the document schema, with
 * tokens of realistic sizes), and the cost of opening it split into its
 * steps: read, envelope parse, key derivation, decrypt, JSON parse, schema.
 */
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { accountIdFor } from '../src-main/engine/accounts.js';
import { emptyVaultDocument, VAULT_DOCUMENT_OPTIONS, type AccountRecord, type ProviderRecord, type VaultDocument } from '../src-main/store/vault-document.js';
import { decryptEnvelope, parseEnvelope } from '../src-main/vault/envelope.js';
import type { KeyParams, KeySource } from '../src-main/vault/key-source.js';
import { PassphraseKeySource } from '../src-main/vault/passphrase-key-source.js';
import { Vault } from '../src-main/vault/vault.js';
import { since } from './bench-report.js';

const ISSUER = 'http://127.0.0.1:1';
const API = 'https://api.demo.latchkey.test/';

const opaque = () => randomBytes(32).toString('base64url');
/** JWT-shaped: a header, a claims body and an RS256-sized signature. */
const jwtLike = (claimsBytes: number) =>
  [randomBytes(36), randomBytes(claimsBytes), randomBytes(256)].map((b) => b.toString('base64url')).join('.');

function syntheticProvider(now: number): ProviderRecord {
  return { name: 'bench', issuer: ISSUER, clientId: 'latchkey-demo', scope: 'email openid profile', redirect: 'loopback', kind: 'user', createdAt: now };
}

/** One signed-in account: a refresh token, an ID token, a user-info access token and an API access token. */
function syntheticAccount(i: number, now: number): AccountRecord {
  const subject = `user${String(i).padStart(4, '0')}`;
  return {
    id: accountIdFor('bench', ISSUER, subject),
    provider: 'bench',
    subject,
    claims: { name: `User ${i}`, email: `${subject}@demo.latchkey.test`, preferredUsername: subject },
    status: 'active',
    scope: 'api:read email openid profile',
    authTime: Math.floor(now / 1000),
    refreshToken: opaque(),
    idToken: jwtLike(420),
    tokens: [
      { accessToken: opaque(), tokenType: 'Bearer', expiresAt: now + 3_600_000, scope: 'email openid profile', obtainedAt: now },
      { accessToken: jwtLike(330), tokenType: 'Bearer', expiresAt: now + 3_600_000, scope: 'api:read', resource: API, obtainedAt: now },
    ],
    createdAt: now,
    updatedAt: now,
  };
}

export function passphraseSource(passphrase: string): PassphraseKeySource {
  return new PassphraseKeySource(async () => passphrase);
}

/** `source`, with the time its last `loadKey` took: what the vault's own work is measured beyond. */
export function timedKeySource(source: KeySource): KeySource & { lastLoadMs: number } {
  const timed = {
    kind: source.kind,
    lastLoadMs: Number.NaN,
    describe: () => source.describe(),
    createKey: () => source.createKey(),
    loadKey: async (params: KeyParams) => {
      const start = performance.now();
      try {
        return await source.loadKey(params);
      } finally {
        timed.lastLoadMs = since(start);
      }
    },
    ...(source.deleteKey ? { deleteKey: (params: KeyParams) => source.deleteKey!(params) } : {}),
  };
  return timed;
}

function openVault(path: string, keySource: KeySource): Promise<Vault<VaultDocument>> {
  return Vault.open<VaultDocument>({ path, ...VAULT_DOCUMENT_OPTIONS, keySource });
}

export interface WrittenVault {
  /** Times of one refresh's durable write (one journal record). */
  updateMs: number[];
  /** Times of rewriting the whole vault (what every refresh paid before the journal; now only a fold). */
  rewriteMs: number[];
  fileBytes: number;
  plaintextBytes: number;
}

/** Creates a vault at `path` with `accounts` accounts, then times `updates` single-token changes and as many full rewrites. */
export async function writeSyntheticVault(path: string, keySource: KeySource, accounts: number, updates: number): Promise<WrittenVault> {
  const now = Date.now();
  const vault = await openVault(path, keySource);
  await vault.update(() => ({ ...emptyVaultDocument(), providers: [syntheticProvider(now)], accounts: Array.from({ length: accounts }, (_, i) => syntheticAccount(i, now)) }));
  const updateMs: number[] = [];
  const rewriteMs: number[] = [];
  for (let i = 0; i < updates; i++) {
    let start = performance.now();
    // What a refresh does: replace one account's access token and refresh token.
    await vault.update((d) => {
      const a = d.accounts[i % d.accounts.length]!;
      a.refreshToken = opaque();
      a.tokens[0]!.accessToken = opaque();
      a.updatedAt = Date.now();
    });
    updateMs.push(since(start));
    start = performance.now();
    // A whole new document: written as a full, atomically replaced file.
    await vault.update((d) => ({ ...d }));
    rewriteMs.push(since(start));
  }
  return {
    updateMs,
    rewriteMs,
    fileBytes: (await readFile(path)).length,
    plaintextBytes: Buffer.byteLength(JSON.stringify(vault.read())),
  };
}

/**
 * Opens the vault at `path` `runs` times: whole `Vault.open`, the key source's
 * part of it, and the CPU time this process spent on the whole open (ms).
 */
export async function timeOpenBeyondKey(path: string, keySource: KeySource, runs: number): Promise<{ open: number[]; key: number[]; cpu: number[] }> {
  const timed = timedKeySource(keySource);
  const t = { open: [] as number[], key: [] as number[], cpu: [] as number[] };
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    const cpuStart = process.cpuUsage();
    const vault = await openVault(path, timed);
    const cpu = process.cpuUsage(cpuStart);
    t.open.push(since(start));
    t.cpu.push((cpu.user + cpu.system) / 1000);
    t.key.push(timed.lastLoadMs);
    if (vault.read().accounts.length === 0) throw new Error('the synthetic vault opened empty');
  }
  return t;
}

export interface OpenTimings {
  open: number[];
  read: number[];
  envelope: number[];
  kdf: number[];
  decrypt: number[];
  json: number[];
  schema: number[];
}

/** Times `Vault.open` as a whole, then each of its steps separately, `runs` times each. */
export async function timeVaultOpen(path: string, passphrase: string, runs: number): Promise<OpenTimings> {
  const t: OpenTimings = { open: [], read: [], envelope: [], kdf: [], decrypt: [], json: [], schema: [] };
  const source = passphraseSource(passphrase);
  for (let i = 0; i < runs; i++) {
    let start = performance.now();
    const vault = await openVault(path, passphraseSource(passphrase));
    t.open.push(since(start));
    if (vault.read().accounts.length === 0) throw new Error('the synthetic vault opened empty');

    start = performance.now();
    const raw = await readFile(path);
    t.read.push(since(start));
    start = performance.now();
    const envelope = parseEnvelope(raw);
    t.envelope.push(since(start));
    start = performance.now();
    const key = await source.loadKey(envelope.key);
    t.kdf.push(since(start));
    start = performance.now();
    const plaintext = decryptEnvelope(envelope, key);
    t.decrypt.push(since(start));
    start = performance.now();
    const json: unknown = JSON.parse(plaintext.toString('utf8'));
    t.json.push(since(start));
    start = performance.now();
    VAULT_DOCUMENT_OPTIONS.parse(json);
    t.schema.push(since(start));
  }
  return t;
}
