/**
 * Turns what openid-client throws into Latchkey errors. openid-client already
 * did the checking (signatures, iss, aud, nonce, state, PKCE); this only picks
 * the right code and a message a person can act on, keeping the provider's own
 * `error` value (RFC 6749 §5.2) and the original as `cause`.
 */
import { LatchkeyError } from '../errors.js';

interface OAuthLikeError {
  name?: string;
  code?: string;
  error?: string;
  error_description?: string;
  status?: number;
  message?: string;
  cause?: unknown;
}

function isNetworkFailure(err: OAuthLikeError): boolean {
  const chain: OAuthLikeError[] = [];
  let cur: unknown = err;
  for (let i = 0; i < 5 && cur && typeof cur === 'object'; i++) {
    chain.push(cur as OAuthLikeError);
    cur = (cur as OAuthLikeError).cause;
  }
  return chain.some(
    (e) =>
      (e.name === 'TypeError' && /fetch failed/i.test(e.message ?? '')) ||
      ['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EAI_AGAIN', 'UND_ERR_SOCKET', 'UND_ERR_CONNECT_TIMEOUT'].includes(
        e.code ?? '',
      ),
  );
}

function isTimeout(err: OAuthLikeError): boolean {
  return err.name === 'TimeoutError' || (err.name === 'AbortError' && /timeout/i.test(err.message ?? ''));
}

/**
 * @param what  the operation, for the message: "sign-in", "token refresh", …
 * @param provider  the provider's name as the user configured it
 */
export function providerFailure(err: unknown, what: string, provider: string): LatchkeyError {
  if (err instanceof LatchkeyError) return err;
  const e = (err ?? {}) as OAuthLikeError;
  if (e.name === 'AbortError' && !isTimeout(e)) {
    return new LatchkeyError('cancelled', `The ${what} was cancelled.`, { cause: err });
  }
  if (isTimeout(e)) {
    return new LatchkeyError('timeout', `Provider "${provider}" did not answer in time during ${what}. Try again later.`, {
      cause: err,
    });
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
  if (typeof e.code === 'string' && e.code.startsWith('OAUTH_')) {
    return new LatchkeyError(
      'invalid_response',
      `Provider "${provider}" sent a response that failed validation during ${what}: ${e.message ?? e.code}.`,
      { cause: err },
    );
  }
  return new LatchkeyError('provider_error', `The ${what} with provider "${provider}" failed: ${e.message ?? String(err)}`, {
    cause: err,
  });
}
