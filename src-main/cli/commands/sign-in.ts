/** `latchkey login`: a sign-in run by the agent, with the browser opened on this side (see login-command.ts). */
import { Option, type Command } from 'commander';
import { runLogin } from '../login-command.js';
import type { CommandKit } from './command-kit.js';
import { scopeArg, seconds, urlArg } from './options.js';

export function addSignInCommands(program: Command, kit: CommandKit): void {
  const { io, withAgent } = kit;
  program
    .command('login')
    .description('Sign in with a provider in your browser; prints the account')
    .option('--provider <name>', 'which provider (default: the only one)')
    .option('--scope <scopes>', 'scopes to ask for (default: the provider\'s)', scopeArg)
    .option('--max-age <seconds>', 'ask the provider to re-authenticate if your session there is older', seconds)
    .addOption(new Option('--prompt <prompt>', 'OIDC prompt').choices(['none', 'login', 'consent', 'select_account']))
    .option('--login-hint <hint>', 'user name or email to suggest at the provider')
    .option('--resource <uri>', 'target API (RFC 8707 resource indicator)', urlArg)
    .option('--no-browser', 'print the sign-in URL instead of opening a browser')
    .option('--device', 'sign in on another device with a code (for SSH and headless sessions)')
    .option('--account-name <name>', 'name the account (plain OAuth 2.0 providers without a userinfo endpoint)')
    .option('--json', 'print the account as JSON')
    .action(async (o: { provider?: string; scope?: string; maxAge?: number; prompt?: 'none'; loginHint?: string; resource?: string; browser: boolean; device?: boolean; accountName?: string; json?: boolean }) => {
      const params = {
        ...(o.provider ? { provider: o.provider } : {}),
        ...(o.scope ? { scope: o.scope } : {}),
        ...(o.maxAge !== undefined ? { max_age: o.maxAge } : {}),
        ...(o.prompt ? { prompt: o.prompt } : {}),
        ...(o.loginHint ? { login_hint: o.loginHint } : {}),
        ...(o.resource ? { resource: o.resource } : {}),
        ...(o.device ? { device: true } : {}),
        ...(o.accountName !== undefined ? { account_name: o.accountName } : {}),
      };
      await withAgent((c) => runLogin(c, io, { params, noBrowser: !o.browser, json: Boolean(o.json) }));
    });
}
