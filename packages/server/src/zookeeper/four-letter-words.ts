import {readdirSync, statSync} from 'node:fs';
import {arch, freemem, hostname, release, totalmem, userInfo} from 'node:os';
import {join} from 'node:path';

import type {ZkConnection} from './zk-connection.js';
import type {ZkMember} from './zk-member.js';
import {ZK_UNMEASURED_MNTR_KEYS} from './zk-mntr-keys.js';
import type {ZkServerStats} from './zk-server-stats.js';

/** The ZooKeeper version Synod speaks, as `srvr` and `envi` report it (kazoo parses it). */
export const ZK_VERSION = '3.8.4-synod, built on 2026-12-01 00:00 UTC';

export interface FourLetterWordsHost {
  readonly member: ZkMember;
  /** The figures of `srvr`, `stat` and `mntr`; `/metrics` reads the same. */
  readonly stats: ZkServerStats;
  readonly tickTimeMs: number;
  connections(): ReadonlySet<ZkConnection>;
  clientPort(): number;
  /** The member's data directory, whose backend and WAL `conf` and `dirs` report. */
  readonly dataDir?: string | undefined;
}

/** The words ZooKeeper 3.8 knows; the others are taken as the start of a packet. */
const WORDS = new Set([
  'ruok',
  'isro',
  'srvr',
  'stat',
  'mntr',
  'envi',
  'conf',
  'cons',
  'crst',
  'srst',
  'wchs',
  'wchc',
  'wchp',
  'dump',
  'dirs',
  'gtmk',
  'stmk',
  'hash',
]);

/** ZooKeeper's default trace mask (`ZooTrace`): client requests, pings and sessions. */
const DEFAULT_TRACE_MASK = 306n;

/**
 * ZooKeeper's four-letter words on the client port, in ZooKeeper 3.8's formats: `ruok`,
 * `isro`, `srvr`, `stat`, `mntr`, `envi`, `conf`, `cons`, `crst`, `srst`, `wchs`, `wchc`,
 * `wchp`, `dump`, `dirs`, `gtmk`, `stmk` and `hash`. They are all enabled, as with
 * `4lw.commands.whitelist=*` (ZooKeeper's default whitelist has only `srvr`).
 */
export class FourLetterWords {
  /** What `gtmk` reads and `stmk` sets; Synod keeps no trace log, so it only echoes. */
  private traceMask = DEFAULT_TRACE_MASK;

  constructor(private readonly host: FourLetterWordsHost) {}

  /** Whether ZooKeeper takes `word` as a four-letter word rather than a packet's length. */
  static knows(word: string): boolean {
    return WORDS.has(word);
  }

  /**
   * The answer to `word`, sent as a connection's first bytes; `rest` is what followed it
   * (`stmk` reads its new mask there). Undefined for a word ZooKeeper does not know.
   */
  answer(word: string, rest: Buffer = Buffer.alloc(0)): string | undefined {
    switch (word) {
      case 'ruok':
        return 'imok';
      case 'isro':
        return 'rw';
      case 'srvr':
        return this.srvr(false);
      case 'stat':
        return this.srvr(true);
      case 'mntr':
        return this.mntr();
      case 'envi':
        return this.envi();
      case 'conf':
        return this.conf();
      case 'cons':
        return `${[...this.host.connections()].map(c => this.cons(c)).join('')}\n`;
      case 'crst':
        for (const c of this.host.connections()) c.counters.reset();
        return 'Connection stats reset.\n';
      case 'srst':
        this.host.stats.reset();
        return 'Server stats reset.\n';
      case 'wchs':
        return this.wchs();
      case 'wchc':
        return this.wchc();
      case 'wchp':
        return this.wchp();
      case 'dump':
        return this.dump();
      case 'dirs':
        return this.dirs();
      case 'gtmk':
        return this.traceMask.toString();
      case 'stmk':
        // The new mask is the 8 bytes after the word; without them ZooKeeper only closes.
        if (rest.length < 8) return '';
        this.traceMask = rest.readBigInt64BE(0);
        return this.traceMask.toString();
      case 'hash':
        // ZooKeeper lists its tree digests here; without digests (as Synod) it says nothing.
        return '';
      default:
        return undefined;
    }
  }

  private zxid(): string {
    return `0x${this.host.member.store().rev().toString(16)}`;
  }

  private srvr(withClients: boolean): string {
    const s = this.host.stats.snapshot();
    const lines = [`Zookeeper version: ${ZK_VERSION}`];
    if (withClients) {
      lines.push('Clients:');
      for (const c of this.host.connections()) lines.push(brief(c));
      lines.push('');
    }
    lines.push(
      `Latency min/avg/max: ${s.minLatencyMs}/${javaDouble(s.avgLatencyMs)}/${s.maxLatencyMs}`,
      `Received: ${s.packetsReceived}`,
      `Sent: ${s.packetsSent}`,
      `Connections: ${s.aliveConnections}`,
      `Outstanding: ${s.outstandingRequests}`,
      `Zxid: ${this.zxid()}`,
      `Mode: ${this.host.member.mode()}`,
      `Node count: ${s.znodeCount}`,
    );
    return `${lines.join('\n')}\n`;
  }

  private mntr(): string {
    const s = this.host.stats.snapshot();
    const rows: [string, string | number][] = [
      ['zk_version', ZK_VERSION],
      ['zk_server_state', this.host.member.mode()],
      ['zk_znode_count', s.znodeCount],
      ['zk_watch_count', s.watchCount],
      ['zk_ephemerals_count', s.ephemeralsCount],
      ['zk_approximate_data_size', s.approximateDataSizeBytes],
      ['zk_num_alive_connections', s.aliveConnections],
      ['zk_global_sessions', s.globalSessions],
      ['zk_outstanding_requests', s.outstandingRequests],
      ['zk_avg_latency', javaDouble(s.avgLatencyMs)],
      ['zk_max_latency', s.maxLatencyMs],
      ['zk_min_latency', s.minLatencyMs],
      ['zk_packets_received', s.packetsReceived],
      ['zk_packets_sent', s.packetsSent],
      ['zk_open_file_descriptor_count', 0],
      ['zk_max_file_descriptor_count', 0],
    ];
    for (const k of ZK_UNMEASURED_MNTR_KEYS) rows.push([k, 0]);
    return rows.map(([k, v]) => `${k}\t${v}\n`).join('');
  }

  private envi(): string {
    const rows: [string, string][] = [
      ['zookeeper.version', ZK_VERSION],
      ['host.name', hostname()],
      ['java.version', `node ${process.versions.node}`],
      ['java.vendor', 'Synod'],
      ['java.home', ''],
      ['java.class.path', ''],
      ['java.library.path', ''],
      ['java.io.tmpdir', ''],
      ['java.compiler', '<NA>'],
      ['os.name', process.platform === 'linux' ? 'Linux' : process.platform],
      ['os.arch', arch()],
      ['os.version', release()],
      ['user.name', safeUser()],
      ['user.home', ''],
      ['user.dir', process.cwd()],
      ['os.memory.free', `${Math.round(freemem() / 1048576)}MB`],
      ['os.memory.max', `${Math.round(totalmem() / 1048576)}MB`],
      ['os.memory.total', `${Math.round(totalmem() / 1048576)}MB`],
    ];
    return `Environment:\n${rows.map(([k, v]) => `${k}=${v}\n`).join('')}`;
  }

  private conf(): string {
    const t = this.host.tickTimeMs;
    const dirs = this.dataDirs();
    const rows: [string, string | number][] = [
      ['clientPort', this.host.clientPort()],
      ['secureClientPort', -1],
      // ZooKeeper's snapshots are the member's backend; its transaction log, the WAL.
      ['dataDir', dirs.data],
      ['dataDirSize', dirs.dataBytes],
      ['dataLogDir', dirs.log],
      ['dataLogSize', dirs.logBytes],
      ['tickTime', t],
      ['maxClientCnxns', 1024],
      ['minSessionTimeout', 2 * t],
      ['maxSessionTimeout', 20 * t],
      ['clientPortListenBacklog', -1],
      ['serverId', this.host.member.memberId],
    ];
    return rows.map(([k, v]) => `${k}=${v}\n`).join('');
  }

  /** As `ServerCnxn.dumpConnectionInfo`: a connection without a session gets the brief form. */
  private cons(c: ZkConnection): string {
    const n = c.counters;
    if (c.sessionId === 0n) return `${brief(c)}\n`;
    const cxid = n.lastCxid >= 0 ? `lcxid=0x${n.lastCxid.toString(16)},` : '';
    return (
      `${brief(c).slice(0, -1)},sid=0x${hex(c.sessionId)},lop=${n.lastOp},` +
      `est=${c.establishedMs},to=${c.timeoutMs},${cxid}lzxid=0x${hex(BigInt(n.lastZxid))},` +
      `lresp=${n.lastResponseMs},llat=${n.lastLatencyMs},minlat=${n.minLatency},` +
      `avglat=${n.meanLatency},maxlat=${n.maxLatency})\n`
    );
  }

  /**
   * The connections' data watches by session: ZooKeeper's `wchs`, `wchc` and `wchp` report
   * its data-watch table only (getData and exists, and addWatch's persistent ones), not the
   * child watches, which `mntr`'s `zk_watch_count` adds. Sorted, where ZooKeeper's hash order
   * promises none.
   */
  private dataWatches(): {sessionId: bigint; paths: string[]}[] {
    const out: {sessionId: bigint; paths: string[]}[] = [];
    for (const c of this.host.connections()) {
      const paths = [...c.watches.dataWatchPaths()].sort();
      if (paths.length > 0) out.push({sessionId: c.sessionId, paths});
    }
    return out.sort((a, b) => (a.sessionId < b.sessionId ? -1 : 1));
  }

  private wchs(): string {
    const watchers = this.dataWatches();
    const paths = new Set(watchers.flatMap(w => w.paths));
    const total = watchers.reduce((sum, w) => sum + w.paths.length, 0);
    return `${watchers.length} connections watching ${paths.size} paths\nTotal watches:${total}\n`;
  }

  private wchc(): string {
    const lines = this.dataWatches().map(
      w => `0x${hex(w.sessionId)}\n${w.paths.map(p => `\t${p}\n`).join('')}`,
    );
    return `${lines.join('')}\n`;
  }

  private wchp(): string {
    const byPath = new Map<string, bigint[]>();
    for (const w of this.dataWatches()) {
      for (const p of w.paths) byPath.set(p, [...(byPath.get(p) ?? []), w.sessionId]);
    }
    const lines = [...byPath.keys()]
      .sort()
      .map(p => `${p}\n${(byPath.get(p) ?? []).map(id => `\t0x${hex(id)}\n`).join('')}`);
    return `${lines.join('')}\n`;
  }

  /**
   * ZooKeeper's `dump`: sessions grouped by when they expire (rounded up to a tick, as its
   * session tracker's buckets are), each session's ephemerals, then this member's connections
   * grouped by when they expire if idle. A session's expiry is its lease's, as this member
   * knows it: the leader counts it down, the others know only its granted TTL.
   */
  private dump(): string {
    const tick = this.host.tickTimeMs;
    const now = Date.now();
    const bucket = (ms: number) => Math.ceil(ms / tick) * tick;
    const sessions = this.host.member.state().sessionsDump();
    const lines = ['SessionTracker dump:'];
    const sessionSets = groupBy(sessions, s => bucket(now + s.ttlSeconds * 1000));
    lines.push(`Session Sets (${sessionSets.size})/(${sessions.length}):`);
    for (const [at, members] of sessionSets) {
      lines.push(`${members.length} expire at ${javaDate(at)}:`);
      for (const s of members) lines.push(`\t0x${hex(s.id)}`);
    }
    const withEphemerals = sessions.filter(s => s.ephemerals.length > 0);
    lines.push('ephemeral nodes dump:', `Sessions with Ephemerals (${withEphemerals.length}):`);
    for (const s of withEphemerals) {
      lines.push(`0x${hex(s.id)}:`, ...s.ephemerals.map(p => `\t${p}`));
    }
    const connections = [...this.host.connections()];
    const connectionSets = groupBy(connections, c => bucket(c.idleDeadlineMs));
    lines.push(
      'Connections dump:',
      `Connections Sets (${connectionSets.size})/(${connections.length}):`,
    );
    for (const [at, members] of connectionSets) {
      lines.push(`${members.length} expire at ${javaDate(at)}:`);
      for (const c of members) lines.push(`\tip: /${c.remote} sessionId: 0x${hex(c.sessionId)}`);
    }
    return `${lines.join('\n')}\n`;
  }

  private dirs(): string {
    const dirs = this.dataDirs();
    return `datadir_size: ${dirs.dataBytes}\nlogdir_size: ${dirs.logBytes}\n`;
  }

  /** The backend and WAL directories and the bytes of their files (0 without a data dir). */
  private dataDirs(): {data: string; dataBytes: number; log: string; logBytes: number} {
    const root = this.host.dataDir;
    if (root === undefined) return {data: '', dataBytes: 0, log: '', logBytes: 0};
    const data = join(root, 'member', 'db');
    const log = join(root, 'member', 'wal');
    return {data, dataBytes: filesBytes(data), log, logBytes: filesBytes(log)};
  }
}

/** A connection as `stat` lists it: address, interest, queue and packet counts. */
function brief(c: ZkConnection): string {
  const n = c.counters;
  return ` /${c.remote}[${c.interestOps}](queued=${c.queued},recved=${n.received},sent=${n.sent})`;
}

/** An id as Java's `Long.toHexString` writes it: two's complement, no sign. */
function hex(id: bigint): string {
  return BigInt.asUintN(64, id).toString(16);
}

/** Items grouped by a key, groups in ascending key order. */
function groupBy<T>(items: readonly T[], key: (item: T) => number): Map<number, T[]> {
  const groups = new Map<number, T[]>();
  for (const item of items) {
    const k = key(item);
    groups.set(k, [...(groups.get(k) ?? []), item]);
  }
  return new Map([...groups].sort(([a], [b]) => a - b));
}

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** A time as Java's `Date.toString` writes it, in UTC: `Sun Dec 06 17:30:26 UTC 2026`. */
export function javaDate(ms: number): string {
  const d = new Date(ms);
  const two = (n: number) => String(n).padStart(2, '0');
  return (
    `${DAYS[d.getUTCDay()]} ${MONTHS[d.getUTCMonth()]} ${two(d.getUTCDate())} ` +
    `${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())} UTC ` +
    `${d.getUTCFullYear()}`
  );
}

/** The bytes of the files directly in `dir`, as ZooKeeper sums its data and log directories. */
function filesBytes(dir: string): number {
  try {
    let total = 0;
    for (const entry of readdirSync(dir, {withFileTypes: true})) {
      if (entry.isFile()) total += statSync(join(dir, entry.name)).size;
    }
    return total;
  } catch {
    return 0;
  }
}

/** A double as Java's `Double.toString` writes it, as ZooKeeper prints its averages. */
export function javaDouble(v: number): string {
  if (v === 0) return '0.0';
  const plain = (x: number) => (Number.isInteger(x) ? x.toFixed(1) : String(x));
  const abs = Math.abs(v);
  if (abs >= 1e-3 && abs < 1e7) return plain(v);
  const exponent = Math.floor(Math.log10(abs));
  const mantissa = Number((v / 10 ** exponent).toPrecision(15));
  return `${plain(mantissa)}E${exponent}`;
}

function safeUser(): string {
  try {
    return userInfo().username;
  } catch {
    return '';
  }
}
