/**
 * Who keeps a connection slot when they run short. Any same-user process (a
 * sandboxed app handed only the socket included) can open connections, so a
 * flat cap alone lets one of them hold every slot with idle or keep-alive
 * connections and lock everyone out, the person's own CLI too.
 *
 * A connection is *unproven* until it shows a credential: the owner key
 * (`admin.hello`, owner-key.ts) or an app key (`hello.prove`, app-methods.ts),
 * whose handlers call {@link proveConnection}. With `requireProof` on (the
 * agent), this enforces:
 * - an unproven connection is closed `handshakeTimeoutMs` after it was
 *   accepted, whatever it sends meanwhile, so keep-alive messages buy nothing;
 * - at `maxConnections` (owner connections not counted), a new connection
 *   takes the slot of the longest-idle unproven one, which is closed: nobody
 *   is turned away at connect while an unproven connection can give way;
 * - when every slot is held by a proven app, {@link OWNER_RESERVE} more may
 *   connect unproven, so the owner always gets in; one of those that proves
 *   as an app is refused (`busy`) unless an unproven slot can be freed for it,
 *   so proven apps never hold more than `maxConnections`;
 * - at most `maxConnectionsPerPeer` proven app connections per process (where
 *   the platform tells who the peer is, see platform/peer-lookup.ts): one more
 *   is refused `busy` at `hello.prove`.
 * Without `requireProof` (a bare RPC server) every connection counts as proven:
 * the plain cap, one `busy` line beyond it.
 *
 * Owner connections hold no slot: they prove the owner key, which only the
 * person's own tools can read.
 */
import { LatchkeyError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import type { PeerProcess } from '../platform/peer-lookup.js';
import { DeadlineTimer } from '../wire/deadline-timer.js';
import type { Connection } from './rpc-connection.js';

/** Connections allowed past `maxConnections` while every slot is proven, so an owner can still connect and prove itself. */
export const OWNER_RESERVE = 8;

export interface SlotLimits {
  maxConnections: number;
  /** How long a connection may stay unproven. */
  handshakeTimeoutMs: number;
  /** Proven app connections per peer process. */
  maxConnectionsPerPeer: number;
}

/** What the slot table needs of a connection: rpc-connection.ts provides it. */
export interface SlotConnection {
  readonly id: number;
  readonly state: Record<PropertyKey, unknown>;
  /** `performance.now()` of its last complete message or finished request. */
  readonly lastActivityAt: number;
  identifyPeer(): Promise<PeerProcess | undefined>;
  onClose(cb: () => void): void;
  /** Closes at once, aborting in-flight requests. */
  destroy(): void;
}

type SlotRole = 'unproven' | 'app' | 'owner';

interface Slot {
  readonly connection: SlotConnection;
  readonly table: ConnectionSlots;
  readonly admittedAt: number;
  role: SlotRole;
  /** Who the peer is, for the per-peer cap: `pid:N` once known. */
  peer?: string;
}

const SLOT = Symbol('connection-slot');

export class ConnectionSlots {
  readonly #limits: Readonly<SlotLimits>;
  readonly #logger: Logger;
  readonly #requireProof: boolean;
  /** In admission order, which is also handshake-deadline order. */
  readonly #unproven = new Set<Slot>();
  readonly #apps = new Set<Slot>();
  readonly #handshakes = new DeadlineTimer((now) => this.#expireHandshakes(now));

  constructor(options: { limits: Readonly<SlotLimits>; logger: Logger; requireProof: boolean }) {
    this.#limits = options.limits;
    this.#logger = options.logger;
    this.#requireProof = options.requireProof;
  }

  /** Slots held: unproven and app connections (owner ones hold none). */
  get held(): number {
    return this.#unproven.size + this.#apps.size;
  }

  /**
   * Makes room for one more connection, closing the longest-idle unproven one
   * if the slots are full; false if the newcomer must be turned away.
   */
  makeRoom(): boolean {
    if (this.held < this.#limits.maxConnections) return true;
    if (!this.#requireProof) return false;
    if (this.#evictIdlest()) return true;
    return this.held < this.#limits.maxConnections + OWNER_RESERVE;
  }

  /** Gives an accepted connection its slot (call after {@link makeRoom} said yes). */
  admit(connection: SlotConnection): void {
    const slot: Slot = { connection, table: this, admittedAt: performance.now(), role: this.#requireProof ? 'unproven' : 'app' };
    connection.state[SLOT] = slot;
    (slot.role === 'unproven' ? this.#unproven : this.#apps).add(slot);
    connection.onClose(() => this.#release(slot));
    if (slot.role === 'unproven') this.#handshakes.ensure(slot.admittedAt + this.#limits.handshakeTimeoutMs);
  }

  /** Drops every slot and stops the handshake timer (server shutdown). */
  clear(): void {
    this.#handshakes.stop();
    this.#unproven.clear();
    this.#apps.clear();
  }

  async prove(slot: Slot, role: 'app' | 'owner'): Promise<void> {
    if (slot.role !== 'unproven') return;
    if (role === 'owner') {
      this.#release(slot);
      slot.role = 'owner';
      return;
    }
    const peer = await slot.connection.identifyPeer();
    if (slot.role !== 'unproven' || !this.#unproven.has(slot)) return; // closed or proven meanwhile
    const key = peerKey(peer);
    if (key !== undefined && [...this.#apps].filter((s) => s.peer === key).length >= this.#limits.maxConnectionsPerPeer) {
      throw this.#refuse(slot, `This app process already has ${this.#limits.maxConnectionsPerPeer} connections to the agent (the most one process may hold); close one and retry.`);
    }
    // Admitted from the owner reserve: an app may stay only if an unproven slot can be freed for it.
    if (this.held > this.#limits.maxConnections && !this.#evictIdlest(slot)) {
      throw this.#refuse(slot, `The agent has too many connections (max ${this.#limits.maxConnections}); retry later.`);
    }
    this.#unproven.delete(slot);
    slot.role = 'app';
    if (key !== undefined) slot.peer = key;
    this.#apps.add(slot);
  }

  #refuse(slot: Slot, message: string): LatchkeyError {
    this.#logger.warn({ connection: slot.connection.id, peer: slot.peer }, 'agent connection refused a slot after proving');
    // After the handler's answer (the `busy` error) is written: the request settles in a microtask.
    setImmediate(() => slot.connection.destroy());
    return new LatchkeyError('busy', message);
  }

  #release(slot: Slot): void {
    this.#unproven.delete(slot);
    this.#apps.delete(slot);
  }

  /** Closes the unproven connection idle longest (other than `keep`); false if there is none. */
  #evictIdlest(keep?: Slot): boolean {
    let idlest: Slot | undefined;
    for (const slot of this.#unproven) {
      if (slot !== keep && (!idlest || slot.connection.lastActivityAt < idlest.connection.lastActivityAt)) idlest = slot;
    }
    if (!idlest) return false;
    this.#logger.debug({ connection: idlest.connection.id }, 'agent slots full; closing the longest-idle unproven connection');
    this.#release(idlest);
    idlest.connection.destroy();
    return true;
  }

  /** Closes the unproven connections past their handshake deadline; returns the next deadline. */
  #expireHandshakes(now: number): number {
    for (const slot of this.#unproven) {
      const deadline = slot.admittedAt + this.#limits.handshakeTimeoutMs;
      if (deadline > now) return deadline;
      this.#logger.debug({ connection: slot.connection.id }, 'agent connection proved nothing in time; closing it');
      this.#release(slot);
      slot.connection.destroy();
    }
    return Infinity;
  }
}

/**
 * Marks `connection` as proven (`owner`: the owner key; `app`: an app key)
 * in its server's slot table. Throws `busy` (and closes the connection) when
 * an app may not keep a slot: its process is at the per-peer cap, or it came
 * in on the owner reserve and no slot can be freed.
 */
export async function proveConnection(connection: Connection, role: 'app' | 'owner'): Promise<void> {
  const slot = connection.state[SLOT] as Slot | undefined;
  await slot?.table.prove(slot, role);
}

/** Per process where the platform tells; the uid adds nothing, as only the owner's uid can open the socket. */
function peerKey(peer: PeerProcess | undefined): string | undefined {
  return peer ? `pid:${peer.pid}` : undefined;
}
