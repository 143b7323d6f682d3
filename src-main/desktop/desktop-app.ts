/**
 * What the Electron shell talks to: the vault owner (DesktopHost), started at
 * once when a key source can open the vault on its own, or after the person
 * typed a passphrase when none can (Linux `basic_text`, or a passphrase vault
 * without LATCHKEY_PASSPHRASE_FILE). Until then the app is locked.
 *
 * What it enforces:
 * - while locked, only the `vault:*` channels answer; every other one is
 *   `vault_locked`, and the vault file is not opened;
 * - a new passphrase has at least MIN_NEW_PASSPHRASE characters and is typed
 *   twice (the contract's schema); an unlock never creates a vault and a
 *   create never opens an existing one;
 * - the passphrase goes to the PassphraseKeySource and nowhere else: it is
 *   not logged, not kept once the vault is open, never sent back;
 * - a wrong passphrase is `vault_locked`, leaves the vault file as it was and
 *   the app locked, ready for another try; one attempt at a time (`busy`);
 * - the headless agent owning the vault is found at launch (`agent_running`),
 *   not after the person typed a passphrase.
 */
import { EventEmitter } from 'node:events';
import { LatchkeyError } from '../errors.js';
import { acquireAgentLock } from '../agent/agent-lock.js';
import { readKeyParams } from '../vault/vault.js';
import type { DesktopEvent, Outcome, VaultChannel, VaultState } from '../../src-preload/contract.js';
import { startDesktopHost, type DesktopHost, type DesktopHostOptions } from './desktop-host.js';
import type { DesktopKeyChoice, VaultLock } from './desktop-key-source.js';
import { dispatch, type ChannelHandlers } from './desktop-service.js';

export interface DesktopAppOptions extends Omit<DesktopHostOptions, 'keySourceFor' | 'keySourceWarning'> {
  keys: DesktopKeyChoice;
}

export class DesktopApp {
  /** Main's events for the renderer: the vault service's, and `vault.changed` when the vault opens. */
  readonly events = new EventEmitter<{ event: [DesktopEvent] }>();
  /** Resolves with the vault owner when the vault opens: at launch, or after an unlock. */
  readonly opened: Promise<DesktopHost>;
  #host: DesktopHost | undefined;
  #lock: VaultLock | undefined;
  #opening = false;
  #resolveOpened!: (host: DesktopHost) => void;
  readonly #handlers: ChannelHandlers<VaultChannel>;
  readonly #keys: DesktopKeyChoice;
  readonly #hostOptions: Omit<DesktopAppOptions, 'keys'>;

  private constructor({ keys, ...hostOptions }: DesktopAppOptions) {
    this.#keys = keys;
    this.#hostOptions = hostOptions;
    this.opened = new Promise((resolve) => (this.#resolveOpened = resolve));
    this.#handlers = {
      'vault:state': () => ({ state: 'locked', ...this.#lock! }),
      'vault:unlock': (p) => this.#openWith(p.passphrase, 'unlock'),
      'vault:create': (p) => this.#openWith(p.passphrase, 'create-passphrase'),
    };
  }

  /** Opens the vault, or leaves the app locked when it needs a passphrase first. Throws what startDesktopHost throws (e.g. `agent_running`). */
  static async launch(options: DesktopAppOptions): Promise<DesktopApp> {
    const app = new DesktopApp(options);
    // An unreadable file is not judged here: the normal open reports it, with its recovery hint.
    const existing = await readKeyParams(options.paths.vault).catch(() => undefined);
    app.#lock = existing === undefined ? undefined : options.keys.lockFor(existing);
    if (app.#lock) await (await acquireAgentLock(options.paths.lock)).release();
    else await app.#open(options.keys);
    return app;
  }

  /** The vault owner, once the vault is open. */
  get host(): DesktopHost | undefined {
    return this.#host;
  }

  /** The IPC entry point: the vault service once the vault is open; until then only the `vault:*` channels. */
  call(channel: unknown, params: unknown): Promise<Outcome<unknown>> {
    if (this.#host) return this.#host.service.call(channel, params);
    return dispatch(this.#handlers, channel, params, () => new LatchkeyError('vault_locked', 'Latchkey is locked: unlock the vault first.'));
  }

  async stop(): Promise<void> {
    await this.#host?.stop();
  }

  async #openWith(passphrase: string, needs: VaultLock['needs']): Promise<VaultState> {
    const lock = this.#lock!; // locked: once open, the vault service answers
    if (lock.needs !== needs) {
      throw new LatchkeyError('usage', needs === 'unlock' ? 'There is no vault yet: choose a passphrase to create one.' : 'A vault exists already: unlock it with its passphrase.');
    }
    if (this.#opening) throw new LatchkeyError('busy', 'The vault is already being opened.');
    this.#opening = true;
    try {
      await this.#open(this.#keys.withPassphrase(passphrase, needs === 'unlock' ? 'unlock' : 'create'));
    } finally {
      this.#opening = false;
    }
    return { state: 'open' };
  }

  async #open(keys: Pick<DesktopKeyChoice, 'keySourceFor' | 'health'>): Promise<void> {
    const host = await startDesktopHost({ ...this.#hostOptions, keySourceFor: keys.keySourceFor, keySourceWarning: keys.health });
    host.service.events.on('event', (e) => this.events.emit('event', e));
    this.#host = host;
    this.#lock = undefined;
    this.#resolveOpened(host);
    this.events.emit('event', { type: 'vault.changed' });
  }
}
