import {arch, freemem, hostname, release, totalmem, userInfo} from 'node:os';

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
}

/**
 * ZooKeeper's four-letter words on the client port, in ZooKeeper 3.8's formats:
 * `ruok`, `srvr`, `stat`, `mntr`, `envi`, `conf`, `cons`, `isro`, `wchs`. They
 * are all enabled (ZooKeeper's default whitelist has only `srvr`). Per-connection
 * latencies in `cons` are not measured and read 0.
 */
export class FourLetterWords {
  constructor(private readonly host: FourLetterWordsHost) {}

  answer(word: string): string | undefined {
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
      case 'wchs':
        return this.wchs();
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
      for (const c of this.host.connections()) {
        lines.push(` /${c.remote}[1](queued=${c.queued},recved=${c.received},sent=${c.sent})`);
      }
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
    const rows: [string, string | number][] = [
      ['clientPort', this.host.clientPort()],
      ['secureClientPort', -1],
      // Synod's data is its member's data directory; ZooKeeper's four fields name it.
      ['dataDir', ''],
      ['dataDirSize', 0],
      ['dataLogDir', ''],
      ['dataLogSize', 0],
      ['tickTime', t],
      ['maxClientCnxns', 1024],
      ['minSessionTimeout', 2 * t],
      ['maxSessionTimeout', 20 * t],
      ['clientPortListenBacklog', -1],
      ['serverId', this.host.member.memberId],
    ];
    return rows.map(([k, v]) => `${k}=${v}\n`).join('');
  }

  private cons(c: ZkConnection): string {
    return (
      ` /${c.remote}[1](queued=${c.queued},recved=${c.received},sent=${c.sent},` +
      `sid=0x${c.sessionId.toString(16)},lop=${c.lastOp},est=${c.establishedMs},` +
      `to=${c.timeoutMs},lzxid=0x${c.lastZxid.toString(16)},lresp=0,llat=0,minlat=0,avglat=0.0,maxlat=0)\n`
    );
  }

  private wchs(): string {
    let watching = 0;
    let total = 0;
    const paths = new Set<string>();
    for (const c of this.host.connections()) {
      if (c.watches.size === 0) continue;
      watching++;
      total += c.watches.size;
      for (const p of c.watches.paths()) paths.add(p);
    }
    return `${watching} connections watching ${paths.size} paths\nTotal watches:${total}\n`;
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
