/**
 * Turns what openid-client throws into Latchkey errors. openid-client already
 * did the checking (signatures, iss, aud, nonce, state, PKCE); this only picks
 * the right code and a message a person can act on, keeping the provider's own
 * `error` value (RFC 6749 §5.2) and the original as `cause`.
 */
import { LatchkeyError } from '../errors.js';
import { formatBytes, ResponseTooLargeError } from './provider-fetch.js';

interface OAuthLikeError {
  name?: string;
  code?: string;
  error?: string;
  error_description?: string;
  status?: number;
  message?: string;
  cause?: unknown;
}

/** The error and its causes, outermost first (bounded). */
function causeChain(err: OAuthLikeError): OAuthLikeError[] {
  const chain: OAuthLikeError[] = [];
  let cur: unknown = err;
  for (let i = 0; i < 5 && cur && typeof cur === 'object'; i++) {
    chain.push(cur as OAuthLikeError);
    cur = (cur as OAuthLikeError).cause;
  }
  return chain;
}

function isNetworkFailure(err: OAuthLikeError): boolean {
  return causeChain(err).some(
    (e) =>
      (e.name === 'TypeError' && /fetch failed/i.test(e.message ?? '')) ||
      ['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EAI_AGAIN', 'UND_ERR_SOCKET', 'UND_ERR_CONNECT_TIMEOUT'].includes(
        e.code ?? '',
      ),
  );
}

function isTimeout(err: OAuthLikeError): boolean {
  return causeChain(err).some((e) => e.name === 'TimeoutError' || (e.name === 'AbortError' && /timeout/i.test(e.message ?? '')));
}

/** The HTTP response openid-client kept as a cause (for an unexpected status), if any. */
function httpResponseIn(err: OAuthLikeError): { status: number; url: string } | undefined {
  const found = causeChain(err).find((c) => typeof c.status === 'number' && typeof (c as { url?: unknown }).url === 'string' && 'headers' in c);
  return found ? { status: found.status!, url: (found as { url: string }).url } : undefined;
}

/** openid-client's issuer check (OIDC Discovery §4.3) keeps both values in its cause. */
function issuerMismatchIn(err: OAuthLikeError): { expected: string; actual: string } | undefined {
  for (const c of causeChain(err)) {
    const cmp = c as { attribute?: unknown; expected?: unknown; body?: { issuer?: unknown } };
    if (cmp.attribute === 'issuer' && typeof cmp.expected === 'string' && typeof cmp.body?.issuer === 'string') {
      return { expected: cmp.expected, actual: cmp.body.issuer };
    }
  }
  return undefined;
}

/**
 * @param what  the operation, for the message: "sign-in", "token refresh", …
 * @param provider  the provider's name as the user configured it
 */
export function providerFailure(err: unknown, what: string, provider: string): LatchkeyError {
  if (err instanceof LatchkeyError) return err;
  const e = (err ?? {}) as OAuthLikeError;
  // openid-client wraps what the fetch threw (a parse error whose cause it is), so look down the chain.
  const tooLarge = causeChain(e).find((c): c is ResponseTooLargeError => c instanceof ResponseTooLargeError);
  if (tooLarge) {
    return new LatchkeyError(
      'provider_error',
      `Provider "${provider}" sent a response larger than ${formatBytes(tooLarge.limitBytes)} during ${what} (from ${tooLarge.url}); Latchkey reads at most ${formatBytes(tooLarge.limitBytes)} of any provider response.`,
      { cause: err },
    );
  }
  if (isTimeout(e)) {
    return new LatchkeyError('timeout', `Provider "${provider}" did not answer in time during ${what}. Try again later.`, {
      cause: err,
    });
  }
  if (e.name === 'AbortError') {
    return new LatchkeyError('cancelled', `The ${what} was cancelled.`, { cause: err });
  }
  if (isNetworkFailure(e)) {
    return new LatchkeyError(
      'provider_unreachable',
      `Could not reach provider "${provider}" during ${what}. Check your network and the issuer URL.`,
      { cause: err },
    );
  }
  if (typeof e.error === 'string') {
    const detail = e.error_description ? `${e.error}: ${e.error_description}` : e.error;
    // access_denied at the authorization endpoint is the person saying no (RFC 6749 §4.1.2.1).
    const code = e.error === 'access_denied' ? 'access_denied' : 'provider_error';
    return new LatchkeyError(code, `Provider "${provider}" refused the ${what} (${detail}).`, {
      cause: err,
      providerError: e.error,
    });
  }
  const answered = httpResponseIn(e);
  if (answered && (answered.status < 200 || answered.status > 299)) {
    return new LatchkeyError('provider_error', `Provider "${provider}" answered HTTP ${answered.status} at ${answered.url} during ${what}.`, { cause: err });
  }
  const mismatch = issuerMismatchIn(e);
  if (mismatch) {
    return new LatchkeyError(
      'invalid_response',
      `Provider "${provider}" is not the issuer you gave: its discovery document names "${mismatch.actual}", you gave "${mismatch.expected}".`,
      { cause: err },
    );
  }
  if (causeChain(e).some((c) => typeof c.code === 'string' && c.code.startsWith('OAUTH_'))) {
    // openid-client's outer message is generic ("unexpected JWT claim value encountered"); the cause says which.
    const detail = causeChain(e).reverse().find((c) => c.message)?.message ?? e.code;
    return new LatchkeyError(
      'invalid_response',
      `Provider "${provider}" sent a response that failed validation during ${what}: ${detail}.`,
      { cause: err },
    );
  }
  return new LatchkeyError('provider_error', `The ${what} with provider "${provider}" failed: ${e.message ?? String(err)}`, {
    cause: err,
  });
}
