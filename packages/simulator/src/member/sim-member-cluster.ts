import {mkdirSync} from 'node:fs';
import {join} from 'node:path';

import {PutRequest} from '@synod/proto';
import {Message, MessageType} from '@synod/proto/raftpb';
import type {InjectedBug, MemberConfig, MemberLogger} from '@synod/server';
import {MemberCore, memberIdFor, resolveMemberConfig} from '@synod/server';

import type {Prng} from '../prng.js';
import type {SimClock} from '../sim-clock.js';
import type {SimMemberClock} from '../sim-member-clock.js';
import type {SimNetworkOptions} from '../sim-network.js';
import {SimNetwork} from '../sim-network.js';
import {simRandomSource} from '../sim-random-source.js';
import {SimMemberStorage} from './sim-member-storage.js';

/** A raft message on the simulated wire, addressed by member id. */
interface Envelope {
  readonly from: number;
  readonly to: number;
  readonly message: Message;
  /**
   * The incarnation of the receiver the message is for: the one running when it was sent, or
   * the next one if the receiver was down (the peer transport queues messages while it cannot
   * connect and sends them on the next stream).
   */
  readonly incarnation: number;
}

/** How the members of a simulated cluster are configured. */
export interface SimMemberSettings {
  readonly members: number;
  readonly heartbeatIntervalMs: number;
  readonly electionTimeoutMs: number;
  /** Applied entries between raft snapshots: small, so snapshots and installs happen. */
  readonly snapshotCount: number;
  /** Entries kept behind a snapshot for slow followers: small, so followers need snapshots. */
  readonly snapshotCatchUpEntries: number;
  readonly backendBatchIntervalMs: number;
  readonly bugs: readonly InjectedBug[];
  /** Raft's byte limit of one append's entries. */
  readonly maxSizePerMsg: number;
}

/** One seat of the cluster: its storage survives crashes, its core does not. */
interface Seat {
  readonly name: string;
  readonly id: number;
  readonly config: MemberConfig;
  readonly storage: SimMemberStorage;
  core: MemberCore | undefined;
  /** Incarnations so far: each gets its own random stream. */
  starts: number;
}

const enc = (s: string): Buffer => Buffer.from(s, 'utf8');

/**
 * N shipped members (MemberCore with its RaftLoop, Applier, WAL, LMDB backend, lessor and
 * snapshots) on one virtual clock and a {@link SimNetwork}: every raft message goes through
 * the simulated network, re-encoded as on a real wire, so it can be dropped, delayed,
 * duplicated, reordered or cut. A crash closes a member without committing its pending
 * backend batch and makes its file system forget unsynced writes; a restart recovers from
 * what is left, exactly as the member recovers from a data directory.
 */
export class SimMemberCluster {
  readonly network: SimNetwork<Envelope>;
  private readonly seats: Seat[];
  /** Errors that stopped a member on its own: in a correct member, none. */
  readonly fatalErrors: string[] = [];
  snapshotsSent = 0;
  /** Told of every raft message before it goes onto the network (a nemesis may cut it). */
  beforeSend: ((from: number, message: Message) => void) | undefined;

  constructor(
    private readonly sim: SimClock,
    readonly clock: SimMemberClock,
    private readonly prng: Prng,
    private readonly settings: SimMemberSettings,
    network: SimNetworkOptions,
    private readonly root: string,
    private readonly log: (line: string) => void,
  ) {
    const names = Array.from({length: settings.members}, (_, i) => `m${i + 1}`);
    const peerUrl = (i: number): string => `http://10.0.0.${i + 1}:2380`;
    const initialCluster = names.map((n, i) => `${n}=${peerUrl(i)}`).join(',');
    this.seats = names.map((name, i) => {
      const dataDir = join(root, name);
      mkdirSync(dataDir, {recursive: true});
      const config = resolveMemberConfig({
        name,
        dataDir,
        initialCluster,
        initialAdvertisePeerUrls: peerUrl(i),
        listenPeerUrls: peerUrl(i),
        listenClientUrls: `http://10.0.0.${i + 1}:2379`,
        advertiseClientUrls: `http://10.0.0.${i + 1}:2379`,
        heartbeatIntervalMs: settings.heartbeatIntervalMs,
        electionTimeoutMs: settings.electionTimeoutMs,
        snapshotCount: settings.snapshotCount,
        snapshotCatchUpEntries: settings.snapshotCatchUpEntries,
        backendBatchInterval: `${settings.backendBatchIntervalMs}ms`,
        walFsync: 'inline',
      });
      return {
        name,
        id: memberIdFor([new URL(peerUrl(i))], config.initialClusterToken),
        config,
        storage: new SimMemberStorage(clock),
        core: undefined,
        starts: 0,
      };
    });
    this.network = new SimNetwork<Envelope>(
      sim,
      prng.fork('network'),
      network,
      env => this.deliver(env),
      env => ({...env, message: Message.decode(Message.encode(env.message).finish())}),
    );
  }

  /** Member ids, in seat order. */
  get ids(): number[] {
    return this.seats.map(s => s.id);
  }

  /** The running members' cores, in seat order (undefined for a crashed member). */
  cores(): (MemberCore | undefined)[] {
    return this.seats.map(s => s.core);
  }

  nameOf(id: number): string {
    return this.seats.find(s => s.id === id)?.name ?? id.toString(16);
  }

  isUp(index: number): boolean {
    return this.seats[index]?.core !== undefined;
  }

  /** Opens the member of seat `index` from its data directory (new, or what a crash left). */
  start(index: number): void {
    const seat = this.seat(index);
    if (seat.core !== undefined) return;
    const random = simRandomSource(this.prng.fork(`${seat.name}-${seat.starts++}`));
    const logger = this.logger(seat.name);
    const core = MemberCore.open(seat.config, logger, {
      clock: this.clock,
      random,
      storage: seat.storage,
      bugs: new Set(this.settings.bugs),
      raftMaxSizePerMsg: this.settings.maxSizePerMsg,
    });
    core.onSend(messages => {
      for (const message of messages) this.send(seat, message);
    });
    core.onFatal(error => {
      const text = error instanceof Error ? error.message : String(error);
      this.fatalErrors.push(`${seat.name} at ${this.sim.nowMs}ms: ${text}`);
    });
    seat.core = core;
    core.start();
    this.log(`${seat.name} started`);
  }

  /**
   * Crashes the member of seat `index`: its pending backend batch is lost, the batches it
   * committed stay, and its WAL and snapshot files keep only what was synced, plus a random
   * prefix of the rest whose last write may be torn (`tear`).
   */
  async crash(index: number, tear: 'none' | 'sector' | 'byte'): Promise<void> {
    const seat = this.seat(index);
    const core = seat.core;
    if (core === undefined) return;
    seat.core = undefined;
    core.backend.discardPending();
    await core.close();
    await this.clock.drainIo();
    const lost = seat.storage.fs.crash({random: () => this.prng.nextFloat(), tear});
    // Paths are told relative to the run's directory, whose name differs from run to run.
    this.log(`${seat.name} crashed (tear ${tear}): ${lost.replaceAll(this.root, '.')}`);
  }

  /** Stops every member cleanly, at the end of a run. */
  async closeAll(): Promise<void> {
    for (const seat of this.seats) {
      const core = seat.core;
      seat.core = undefined;
      if (core !== undefined) await core.close();
    }
    await this.clock.drainIo();
  }

  /** Puts `key` = `value` through member `index`; resolves with the put's revision. */
  async put(index: number, key: string, value: string): Promise<number> {
    const core = this.running(index);
    const result = await core.propose({
      $case: 'put',
      value: PutRequest.fromPartial({key: enc(key), value: enc(value)}),
    });
    if (!result.ok) throw new Error(result.error.message);
    return result.revision;
  }

  /** A linearizable read of `key` through member `index`. */
  async get(index: number, key: string): Promise<string | undefined> {
    const core = this.running(index);
    await core.linearizableRead();
    const kv = core.store.range(enc(key), undefined).kvs[0];
    return kv === undefined ? undefined : Buffer.from(kv.value).toString('utf8');
  }

  private running(index: number): MemberCore {
    const core = this.seat(index).core;
    if (core === undefined) throw new Error(`${this.seat(index).name} is down`);
    return core;
  }

  private seat(index: number): Seat {
    const seat = this.seats[index];
    if (seat === undefined) throw new RangeError(`no member ${index}`);
    return seat;
  }

  private send(from: Seat, message: Message): void {
    this.beforeSend?.(from.id, message);
    const to = this.seats.find(s => s.id === message.to);
    const incarnation = to === undefined ? 0 : to.core === undefined ? to.starts + 1 : to.starts;
    const env: Envelope = {from: from.id, to: message.to, message, incarnation};
    if (message.type !== MessageType.MsgSnap) {
      this.network.send(env);
      return;
    }
    this.snapshotsSent++;
    this.log(
      `${from.name} sends a snapshot at ${message.snapshot?.metadata?.index ?? 0} to ${this.nameOf(message.to)}`,
    );
    this.network.send(env, delivered => {
      from.core?.reportSnapshot(message.to, delivered);
    });
  }

  /**
   * Hands a message to its receiver, unless the receiver has restarted since it was sent: a
   * real peer stream dies with the process at its end, and what was in flight on it with it,
   * and the transport never writes a message twice (see member/repeated-proposals.ts, whose
   * filter of forwarded proposals relies on that to live in memory). Duplicates the simulated
   * network makes still reach the same incarnation, as a misbehaving network's would.
   */
  private deliver(env: Envelope): boolean {
    const seat = this.seats.find(s => s.id === env.to);
    const core = seat?.core;
    if (seat === undefined || core === undefined || seat.starts !== env.incarnation) return false;
    core.step(env.message);
    return true;
  }

  private logger(name: string): MemberLogger {
    const line = (level: string) => (obj: object, msg: string) => {
      const detail = JSON.stringify(obj, (_k, v: unknown) =>
        typeof v === 'bigint' ? v.toString() : v,
      );
      this.log(`${name} ${level}: ${msg} ${detail === '{}' ? '' : detail}`);
    };
    return {info: line('info'), warn: line('warn'), error: line('error')};
  }
}
