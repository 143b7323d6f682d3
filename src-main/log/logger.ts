/**
 * The only logger. It redacts before anything is written, so no module has to
 * remember to: keys that name secrets are replaced at any depth, and strings are
 * scrubbed of JWTs, bearer credentials and secret-bearing URL parameters (an
 * authorization response URL carries `code` and `state`; RFC 6749 §4.1.2).
 */
import { pino, type Logger, type DestinationStream } from 'pino';

export type { Logger } from 'pino';

const REDACTED = '[redacted]';

/** Object keys whose values are secrets, compared case-insensitively without `_`/`-`. */
const SECRET_KEYS = new Set(
  [
    'access_token', 'refresh_token', 'id_token', 'token', 'code', 'code_verifier', 'pkce_code_verifier',
    'client_secret', 'device_code', 'user_code', 'password', 'passphrase', 'secret', 'key', 'master_key',
    'authorization', 'cookie', 'set_cookie', 'assertion', 'nonce', 'state', 'signature', 'proof',
    'private_key', 'private_key_pem', 'app_key', 'owner_key',
  ].map(normaliseKey),
);

function normaliseKey(key: string): string {
  return key.toLowerCase().replace(/[-_]/g, '');
}

export function isSecretKey(key: string): boolean {
  const k = normaliseKey(key);
  return SECRET_KEYS.has(k) || k.endsWith('token') || k.endsWith('secret') || k.endsWith('verifier');
}

const URL_PARAM = /([?&#;](?:code|state|access_token|refresh_token|id_token|code_verifier|client_secret|device_code|user_code|token|nonce|session_state)=)[^&#\s"']*/gi;
const JWT = /\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*/g;
const BEARER = /\b(Bearer|Basic|DPoP)\s+[A-Za-z0-9._~+/=-]{8,}/gi;
const PEM_PRIVATE = /-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(-----END [A-Z ]*PRIVATE KEY-----|$)/g;

export function scrubString(value: string): string {
  return value.replace(URL_PARAM, `$1${REDACTED}`).replace(JWT, REDACTED).replace(BEARER, `$1 ${REDACTED}`).replace(PEM_PRIVATE, REDACTED);
}

/** Returns a deep copy with secrets replaced; cycles and depth are bounded. */
export function redact(value: unknown, depth = 0, seen = new WeakSet<object>()): unknown {
  if (typeof value === 'string') return scrubString(value);
  if (value === null || typeof value !== 'object') return value;
  if (depth > 8 || seen.has(value)) return '[truncated]';
  seen.add(value);
  if (Buffer.isBuffer(value) || value instanceof Uint8Array) return `[${value.byteLength} bytes]`;
  if (value instanceof Error) {
    const out: Record<string, unknown> = { type: value.name, message: scrubString(value.message) };
    if (value.stack) out.stack = scrubString(value.stack);
    const code = (value as { code?: unknown }).code;
    if (code !== undefined) out.code = code;
    if (value.cause !== undefined) out.cause = redact(value.cause, depth + 1, seen);
    return out;
  }
  if (Array.isArray(value)) return value.map((v) => redact(v, depth + 1, seen));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    out[k] = isSecretKey(k) && v !== undefined && v !== null ? REDACTED : redact(v, depth + 1, seen);
  }
  return out;
}

const LEVEL_NAMES: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };
/** pino's own fields, shown as time and level or left out of the text line. */
const PINO_FIELDS = new Set(['level', 'time', 'pid', 'hostname', 'name', 'msg']);

/**
 * Log lines for a person at a terminal (`latchkey agent --foreground`):
 * `12:00:01 INFO  agent ready pid=… socket=…`, so a consent prompt between
 * them stays readable. Lines arrive already redacted; this only reformats.
 */
export function formatLogLine(json: string): string {
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return json.endsWith('\n') ? json : `${json}\n`;
  }
  const time = typeof entry.time === 'number' ? new Date(entry.time).toTimeString().slice(0, 8) : '';
  const level = (LEVEL_NAMES[entry.level as number] ?? String(entry.level)).padEnd(5);
  const fields = Object.entries(entry)
    .filter(([k]) => !PINO_FIELDS.has(k))
    .map(([k, v]) => `${k}=${typeof v === 'string' ? (/\s/.test(v) ? JSON.stringify(v) : v) : k === 'err' && v && typeof v === 'object' && 'message' in v ? JSON.stringify((v as { message: unknown }).message) : JSON.stringify(v)}`);
  return `${[time, level, entry.msg ?? '', ...fields].filter((part) => part !== '').join(' ')}\n`;
}

/** A pino destination that writes {@link formatLogLine} text to `out`. */
export function textDestination(out: NodeJS.WritableStream): DestinationStream {
  return { write: (line: string) => void out.write(formatLogLine(line)) };
}

export interface LoggerOptions {
  level?: string;
  /** Where log lines go; default stderr. Tests pass a stream they read back. */
  destination?: DestinationStream;
  name?: string;
}

export function createLogger(options: LoggerOptions = {}): Logger {
  return pino(
    {
      name: options.name ?? 'latchkey',
      level: options.level ?? process.env.LATCHKEY_LOG_LEVEL ?? 'info',
      // Disable pino's own error serialiser so errors go through redact() too.
      serializers: { err: (e: unknown) => redact(e) },
      formatters: { log: (obj) => redact(obj) as Record<string, unknown> },
      hooks: {
        logMethod(args, method) {
          // Scrub the message string (and printf-style arguments) as well as the object.
          const cleaned = args.map((a) => (typeof a === 'string' ? scrubString(a) : a)) as typeof args;
          method.apply(this, cleaned);
        },
      },
    },
    options.destination ?? pino.destination({ fd: 2, sync: true }),
  );
}

/** A logger that writes nowhere: for tools and tests that do not care. */
export function silentLogger(): Logger {
  // One for the process: a pino instance costs a fifth of a millisecond to build, and every
  // client connection without a logger of its own asks for one. Nothing here changes its level.
  return (silent ??= pino({ level: 'silent' }));
}
let silent: Logger | undefined;
