/**
 * The client credentials grant (RFC 6749 §4.4) for service profiles: the
 * client signs in as itself, no person and no account involved. The engine
 * caches its tokens in memory only (oidc-engine.ts).
 */
import { openidClient } from '../openid-client.js';
import { providerFailure } from '../provider-errors.js';
import type { FlowContext, FlowGrant, SignInFlow } from './sign-in-flow.js';

export class ClientCredentialsFlow implements SignInFlow {
  readonly grant = 'client_credentials';

  constructor(private readonly resource?: string) {}

  async run({ provider, config, scope }: FlowContext): Promise<FlowGrant> {
    const params: Record<string, string> = {};
    if (scope) params.scope = scope;
    if (this.resource) params.resource = this.resource;
    try {
      return { tokens: await (await openidClient()).clientCredentialsGrant(config, params), promptChosen: false };
    } catch (err) {
      throw providerFailure(err, 'client credentials grant', provider.name);
    }
  }
}
