/**
 * The fetch every request to a provider goes through (openid-client's
 * `customFetch`, set once at discovery and inherited by every later call on
 * that configuration: JWKS, token, userinfo, device authorization, revocation).
 *
 * Enforces:
 * - no response body from a provider is read past {@link MAX_PROVIDER_RESPONSE_BYTES}:
 *   a declared `Content-Length` over the limit is refused before reading, and
 *   every body is counted as it streams, so one that runs on (chunked, or
 *   lying about its length) fails at the limit and the rest is never read;
 * - the failure is a {@link ResponseTooLargeError} that providerFailure()
 *   turns into a `provider_error` naming the limit.
 */
import type * as oidc from 'openid-client';

/**
 * 1 MiB. Real discovery documents, JWKS and token responses are a few KB; an
 * ID token with many claims stays far below this. Documented in README.md
 * ("Threat model").
 */
export const MAX_PROVIDER_RESPONSE_BYTES = 1024 * 1024;

/** A provider response body larger than the limit; carries where it came from. */
export class ResponseTooLargeError extends Error {
  override readonly name = 'ResponseTooLargeError';
  constructor(
    readonly url: string,
    readonly limitBytes: number,
  ) {
    super(`The response from ${url} exceeds ${formatBytes(limitBytes)}`);
  }
}

/** `1 MiB`, `512 KiB`, `100 bytes`: how limits are named in messages. */
export function formatBytes(bytes: number): string {
  if (bytes >= 1024 * 1024 && bytes % (1024 * 1024) === 0) return `${bytes / (1024 * 1024)} MiB`;
  if (bytes >= 1024 && bytes % 1024 === 0) return `${bytes / 1024} KiB`;
  return `${bytes} bytes`;
}

type Fetch = (url: string, options: oidc.CustomFetchOptions) => Promise<Response>;

/** Wraps `fetchImpl` so that no response body is read past `maxBytes`. */
export function limitResponseSize(fetchImpl: Fetch, maxBytes: number = MAX_PROVIDER_RESPONSE_BYTES): oidc.CustomFetch {
  return async (url, options) => {
    const response = await fetchImpl(url, options);
    const declared = Number(response.headers.get('content-length') ?? NaN);
    if (declared > maxBytes) {
      await response.body?.cancel().catch(() => undefined);
      throw new ResponseTooLargeError(url, maxBytes);
    }
    if (!response.body) return response;
    const limited = new Response(response.body.pipeThrough(countingStream(url, maxBytes)), {
      status: response.status,
      statusText: response.statusText,
      headers: response.headers,
    });
    // A constructed Response has an empty url; openid-client does not read it, but keep it true.
    Object.defineProperty(limited, 'url', { value: response.url });
    return limited;
  };
}

/** Passes bytes through until more than `maxBytes` have gone by, then errors (which cancels the source). */
function countingStream(url: string, maxBytes: number): TransformStream<Uint8Array, Uint8Array> {
  let seen = 0;
  return new TransformStream({
    transform(chunk, controller) {
      seen += chunk.byteLength;
      if (seen > maxBytes) controller.error(new ResponseTooLargeError(url, maxBytes));
      else controller.enqueue(chunk);
    },
  });
}
