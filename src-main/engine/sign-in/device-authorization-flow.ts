/**
 * The device authorization grant (RFC 8628) for sessions without a local
 * browser: the person enters a code on another device while this one polls.
 * It enforces that the provider publishes a device authorization endpoint
 * before asking it anything, and stops polling on cancellation.
 */
import { openidClient } from '../openid-client.js';
import { providerFailure } from '../provider-errors.js';
import { validateProviderMetadata } from '../provider-metadata.js';
import type { FlowContext, FlowGrant, SignInFlow, UserCodeInfo } from './sign-in-flow.js';

export class DeviceAuthorizationFlow implements SignInFlow {
  readonly grant = 'device_code';

  /** `onUserCode` shows the person the code and where to enter it. */
  constructor(private readonly onUserCode: (info: UserCodeInfo) => void | Promise<void>) {}

  async run({ provider, config, scope, signal }: FlowContext): Promise<FlowGrant> {
    validateProviderMetadata(config.serverMetadata(), { flows: ['device_code'], openid: !provider.oauth2 }, provider.name);
    try {
      const openid = await openidClient();
      const device = await openid.initiateDeviceAuthorization(config, scope ? { scope } : {});
      const info: UserCodeInfo = { userCode: device.user_code, verificationUri: device.verification_uri, expiresIn: device.expires_in };
      if (device.verification_uri_complete) info.verificationUriComplete = device.verification_uri_complete;
      await this.onUserCode(info);
      const tokens = await openid.pollDeviceAuthorizationGrant(config, device, undefined, signal ? { signal } : {});
      return { tokens, promptChosen: false };
    } catch (err) {
      throw providerFailure(err, 'device sign-in', provider.name);
    }
  }
}
