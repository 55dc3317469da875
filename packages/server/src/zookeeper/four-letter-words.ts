import {arch, freemem, hostname, release, totalmem, userInfo} from 'node:os';

import {ZkKeys, prefixEnd} from './zk-keys.js';
import type {ZkConnection} from './zk-connection.js';
import type {ZkMember} from './zk-member.js';
import {ZK_UNMEASURED_MNTR_KEYS} from './zk-mntr-keys.js';

/** The ZooKeeper version Synod speaks, as `srvr` and `envi` report it (kazoo parses it). */
export const ZK_VERSION = '3.8.4-synod, built on 2026-12-01 00:00 UTC';

export interface FourLetterWordsHost {
  readonly member: ZkMember;
  readonly tickTimeMs: number;
  connections(): ReadonlySet<ZkConnection>;
  clientPort(): number;
}

/**
 * ZooKeeper's four-letter words on the client port, in ZooKeeper 3.8's formats:
 * `ruok`, `srvr`, `stat`, `mntr`, `envi`, `conf`, `cons`, `isro`, `wchs`. They
 * are all enabled (ZooKeeper's default whitelist has only `srvr`); latency
 * figures are not measured and read 0.
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

  private counts() {
    let received = 0;
    let sent = 0;
    for (const c of this.host.connections()) {
      received += c.received;
      sent += c.sent;
    }
    return {received, sent};
  }

  private nodeCount(): number {
    const start = Buffer.from(ZkKeys.nodePrefix);
    return this.host.member.store().range(start, prefixEnd(start), {countOnly: true}).count;
  }

  private zxid(): string {
    return `0x${this.host.member.store().rev().toString(16)}`;
  }

  private srvr(withClients: boolean): string {
    const {received, sent} = this.counts();
    const lines = [`Zookeeper version: ${ZK_VERSION}`];
    if (withClients) {
      lines.push('Clients:');
      for (const c of this.host.connections()) {
        lines.push(` /${c.remote}[1](queued=${c.queued},recved=${c.received},sent=${c.sent})`);
      }
      lines.push('');
    }
    lines.push(
      'Latency min/avg/max: 0/0.0/0',
      `Received: ${received}`,
      `Sent: ${sent}`,
      `Connections: ${this.host.connections().size}`,
      'Outstanding: 0',
      `Zxid: ${this.zxid()}`,
      `Mode: ${this.host.member.mode()}`,
      `Node count: ${this.nodeCount()}`,
    );
    return `${lines.join('\n')}\n`;
  }

  private mntr(): string {
    const {received, sent} = this.counts();
    let watches = 0;
    const paths = new Set<string>();
    for (const c of this.host.connections()) {
      watches += c.watches.size;
      for (const p of c.watches.paths()) paths.add(p);
    }
    const rows: [string, string | number][] = [
      ['zk_version', ZK_VERSION],
      ['zk_server_state', this.host.member.mode()],
      ['zk_znode_count', this.nodeCount()],
      ['zk_watch_count', watches],
      ['zk_num_alive_connections', this.host.connections().size],
      ['zk_outstanding_requests', 0],
      ['zk_avg_latency', '0.0'],
      ['zk_max_latency', 0],
      ['zk_min_latency', 0],
      ['zk_packets_received', received],
      ['zk_packets_sent', sent],
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

function safeUser(): string {
  try {
    return userInfo().username;
  } catch {
    return '';
  }
}
