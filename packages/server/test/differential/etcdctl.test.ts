import {mkdtempSync, rmSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';

import {etcdSkipReason, makeTestPki, mutualTlsOptions, opensslSkipReason} from '@synod/testing';
import type {TestPki} from '@synod/testing';
import {afterAll, beforeAll, beforeEach, describe, expect, it} from 'vitest';

import type {CtlOptions, CtlResult} from './etcdctl.js';
import {etcdctlSkipReason, normaliseJson, normaliseText, runCtl} from './etcdctl.js';
import type {Pair, Side} from './harness.js';
import {align, recordDifference, startPair} from './harness.js';

/** One row of `endpoint status -w json`: the member's id in hex, and whether it leads. */
interface StatusEntry {
  readonly memberId: string;
  readonly isLeader: boolean;
}

/** The rows of `endpoint status -w json`, ids read as text: JSON numbers cannot hold them. */
function statusEntries(stdout: string): StatusEntry[] {
  const quoted = stdout.replace(/"(leader|member_id|cluster_id)":(\d+)/g, '"$1":"$2"');
  const rows = JSON.parse(quoted) as {Status: {leader: string; header: {member_id: string}}}[];
  return rows.map(row => ({
    memberId: BigInt(row.Status.header.member_id).toString(16),
    isLeader: row.Status.leader === row.Status.header.member_id,
  }));
}

/** `endpoint status -w json` without what differs by nature: ids, version, sizes, indexes. */
function statusRows(result: CtlResult): unknown {
  if (result.code !== 0) return {code: result.code, stderr: withoutLogLines(result.stderr)};
  return {
    code: result.code,
    leaders: statusEntries(result.stdout).filter(e => e.isLeader).length,
    endpoints: (JSON.parse(result.stdout) as {Endpoint: string}[]).map(e =>
      normaliseText(e.Endpoint),
    ),
  };
}

/**
 * `member list` output with the members in name order: etcd and Synod both list them in id
 * order, and ids are random. Plain and table rows, and `-w json`.
 */
function membersByName(result: CtlResult): CtlResult {
  if (result.code !== 0) return result;
  if (result.stdout.startsWith('{')) {
    const list = JSON.parse(result.stdout) as {members?: {name: string}[]};
    list.members?.sort((a, b) => a.name.localeCompare(b.name));
    return {...result, stdout: JSON.stringify(list)};
  }
  const nameOf = (line: string) => /started\s*[,|]\s*([^,|\s]+)/.exec(line)?.[1];
  const lines = result.stdout.split('\n');
  const rows = lines.filter(line => nameOf(line) !== undefined);
  rows.sort((a, b) => (nameOf(a) ?? '').localeCompare(nameOf(b) ?? ''));
  return {
    ...result,
    stdout: lines.map(line => (nameOf(line) === undefined ? line : rows.shift())).join('\n'),
  };
}

/** Drops the client library's structured log lines, which carry timestamps and uuids. */
function withoutLogLines(stderr: string): string {
  return stderr
    .split('\n')
    .filter(line => !line.startsWith('{"level"'))
    .join('\n');
}

type Normaliser = (result: CtlResult, side: Side) => unknown;

const plain: Normaliser = result => ({
  code: result.code,
  stdout: normaliseText(result.stdout),
  stderr: normaliseText(withoutLogLines(result.stderr)),
});

const json: Normaliser = result => ({
  code: result.code,
  stdout: result.code === 0 ? normaliseJson(result.stdout) : result.stdout,
  stderr: normaliseText(withoutLogLines(result.stderr)),
});

/**
 * The suite runs in plaintext, then over mutual TLS with the same certificates and flags for
 * both servers (the certificate files etcdctl takes as --cacert, --cert, --key), each on one
 * member and on three (which, on TLS, also talk to each other over mutual TLS).
 *
 * etcdctl is given endpoints as URLs (`http://` or `https://`), as users give them: for its
 * per-endpoint commands (endpoint status and hashkv, defrag, move-leader, snapshot save)
 * etcdctl 3.4 then sends the whole URL as the HTTP/2 `:authority`.
 */
const transports = [
  {transport: 'plaintext', tls: false, members: 1},
  {transport: 'plaintext on three members', tls: false, members: 3},
  {transport: 'mutual TLS', tls: true, members: 1},
  {
    transport: 'mutual TLS between clients and three members, which talk over TLS',
    tls: true,
    members: 3,
  },
] as const;

describe
  .skipIf(
    etcdSkipReason !== undefined ||
      etcdctlSkipReason !== undefined ||
      opensslSkipReason !== undefined,
  )
  .each(transports)('etcdctl against etcd and Synod, $transport', ({tls, members}) => {
  let pair: Pair;
  let dir: string;
  /** Lease ids as each side's etcdctl printed them (hex), in grant order. */
  const leases = new Map<Side, string[]>();

  let pki: TestPki | undefined;

  beforeAll(async () => {
    if (tls) {
      pki = makeTestPki();
      pair = await startPair(
        {...mutualTlsOptions(pki, {peers: members > 1}), members},
        {ca: pki.ca, ...pki.client('root')},
      );
    } else {
      pair = await startPair({members});
    }
    dir = mkdtempSync(join(tmpdir(), 'synod-differential-'));
    for (const side of pair.sides) leases.set(side, []);
  });

  afterAll(async () => {
    await pair.stop();
    pki?.remove();
    rmSync(dir, {recursive: true, force: true});
  });

  beforeEach(async () => {
    await align(pair);
  });

  /** The URL of the member the suite talks to. */
  const endpointOf = (side: Side): string => side.cluster.endpoints[0] ?? '';
  /** The URLs of every member. */
  const allEndpointsOf = (side: Side): string => side.cluster.endpoints.join(',');

  /** Runs the same command on both sides and expects the same normalised output. */
  async function ctl(
    args: readonly string[] | ((side: Side) => readonly string[]),
    normalise: Normaliser = plain,
    options: CtlOptions = {},
    endpoints: (side: Side) => string = endpointOf,
  ): Promise<unknown> {
    const results = await Promise.all(
      pair.sides.map(async side => {
        const argv = typeof args === 'function' ? args(side) : args;
        return normalise(await runCtl(endpoints(side), [...side.ctlFlags, ...argv], options), side);
      }),
    );
    const [e, s] = results;
    const label = typeof args === 'function' ? args(pair.etcd).join(' ') : args.join(' ');
    if (process.env.SYNOD_DIFF_TRACE !== undefined) console.log(label, JSON.stringify(e));
    if (!recordDifference(`etcdctl ${label}`, e, s)) {
      expect(s, `etcdctl ${label}: synod differs from etcd`).toEqual(e);
    }
    return e;
  }

  function leaseOf(side: Side, n: number): string {
    return leases.get(side)?.[n] ?? 'missing-lease';
  }

  it('puts and gets with every flag', async () => {
    for (const [key, value] of [
      ['c/b', '2'],
      ['c/a', '1'],
      ['c/c', '3'],
      ['c/a', '11'],
      ['d', '4'],
    ]) {
      await ctl(['put', key ?? '', value ?? '']);
    }
    await ctl(['put', 'c/a', '12', '--prev-kv']);
    await ctl(['put', 'c/b', '--ignore-value', '--prev-kv']);
    await ctl(['put', 'c/missing', '--ignore-value']);
    await ctl(['get', 'c/a']);
    await ctl(['get', 'c/', '--prefix']);
    await ctl(['get', 'c/b', '--from-key']);
    await ctl(['get', 'c/', '--prefix', '--limit=2']);
    await ctl(['get', 'c/', '--prefix', '--keys-only']);
    await ctl(['get', 'c/', '--prefix', '--print-value-only']);
    await ctl(['get', 'c/', '--prefix', '--order=DESCEND', '--sort-by=MODIFY']);
    await ctl(['get', 'c/', '--prefix', '--order=ASCEND', '--sort-by=VALUE']);
    await ctl(['get', 'c/', '--prefix', '--sort-by=VERSION', '--limit=1']);
    await ctl(['get', 'c/', '--prefix', '--order=DESCEND', '--sort-by=CREATE']);
    await ctl(['get', 'c/', '--prefix', '--order=DESCEND']);
    await ctl(['get', 'c/', '--prefix', '-w', 'json'], json);
    await ctl(['get', 'c/', '--prefix', '-w', 'fields']);
    await ctl(['get', 'c/', '--prefix', '--consistency=s']);
    await ctl(['get', 'c/a', '--rev=3']);
    await ctl(['get', 'c/a', '--rev=100000']);
    await ctl(['get', '', '--prefix', '--keys-only', '--limit=1']);
  });

  it('deletes with --prefix and --prev-kv', async () => {
    for (const key of ['e/a', 'e/b', 'e/c', 'f']) await ctl(['put', key, 'x']);
    await ctl(['del', 'e/a', '--prev-kv']);
    await ctl(['del', 'e/', '--prefix', '--prev-kv']);
    await ctl(['del', 'e/', '--prefix']);
    await ctl(['del', 'f', '--from-key', '-w', 'json'], json);
  });

  it('runs an interactive txn from stdin', async () => {
    await ctl(['put', 'g/a', '1']);
    const script = 'mod("g/a") > "0"\nvalue("g/a") = "1"\n\nput g/a 2\nget g/a\n\nget g/none\n\n';
    await ctl(['txn', '-i'], plain, {stdin: script});
    await ctl(['txn', '-i'], plain, {stdin: script});
    await ctl(['txn', '-w', 'json'], json, {stdin: 'version("g/a") = "2"\n\ndel g/a\n\n\n'});
    await ctl(['txn'], plain, {stdin: 'create("g/b") = "0"\n\nput g/b new\n\n\n'});
  });

  it('watches from a revision and stops after a few events', async () => {
    await ctl(['put', 'h/a', '1']);
    await ctl(['put', 'h/b', '2']);
    await ctl(['del', 'h/a']);
    const start = await ctl(['get', 'h/b', '-w', 'json'], json);
    const rev =
      (start as {stdout: {kvs: {mod_revision: number}[]}[]}).stdout[0]?.kvs[0]?.mod_revision ?? 0;
    await ctl(['watch', `--rev=${rev - 1}`, 'h/', '--prefix'], plain, {stopAfterLines: 8});
    await ctl(['watch', `--rev=${rev - 1}`, 'h/', '--prefix', '--prev-kv'], plain, {
      stopAfterLines: 9,
    });
    await ctl(['watch', `--rev=${rev - 1}`, 'h/b', '-w', 'json'], plain, {stopAfterLines: 1});
  });

  it('grants, inspects, keeps alive, lists and revokes leases', async () => {
    const results = await Promise.all(
      pair.sides.map(side => runCtl(endpointOf(side), [...side.ctlFlags, 'lease', 'grant', '120'])),
    );
    for (const [i, side] of pair.sides.entries()) {
      const id = /lease (\S+) granted/.exec(results[i]?.stdout ?? '')?.[1];
      if (id !== undefined) leases.get(side)?.push(id);
    }
    expect(normaliseText(results[1]?.stdout ?? '')).toBe(normaliseText(results[0]?.stdout ?? ''));
    await ctl(side => ['put', 'i/a', 'x', `--lease=${leaseOf(side, 0)}`]);
    await ctl(
      side => ['lease', 'timetolive', leaseOf(side, 0), '--keys'],
      result => ({
        code: result.code,
        // The remaining TTL is a timing.
        stdout: normaliseText(result.stdout.replace(/remaining\(\d+s\)/, 'remaining(N)')),
      }),
    );
    await ctl(side => ['lease', 'keep-alive', '--once', leaseOf(side, 0)]);
    await ctl(['lease', 'keep-alive', '--once', '1234']);
    await ctl(['lease', 'timetolive', '1234']);
    await ctl(['lease', 'list']);
    await ctl(side => ['lease', 'revoke', leaseOf(side, 0)]);
    await ctl(['get', 'i/a']);
    await ctl(['lease', 'revoke', '1234']);
    await ctl(['lease', 'grant', '9000000001']);
  });

  it('takes a lock around a command', async () => {
    await ctl(['lock', 'j-lock', 'echo', 'locked'], plain);
    await ctl(['lock', 'j-lock'], plain, {stopAfterLines: 1});
  });

  it('campaigns in an election', async () => {
    await ctl(['elect', 'k-election', 'proposal-1'], plain, {stopAfterLines: 2});
  });

  it('takes endpoints written as bare host:port too', async () => {
    const bare = (side: Side) => endpointOf(side).replace(/^https?:\/\//, '');
    await ctl(['endpoint', 'health'], plain, {}, bare);
    await ctl(['put', 'bare/k', 'v'], plain, {}, bare);
    await ctl(['get', 'bare/k'], plain, {}, bare);
    await ctl(
      ['endpoint', 'hashkv', '-w', 'json'],
      result => ({
        code: result.code,
        keys: Object.keys(
          (JSON.parse(result.stdout || '[{}]') as {HashKV?: object}[])[0]?.HashKV ?? {},
        ).sort(),
      }),
      {},
      bare,
    );
  });

  it('reports endpoint status and health, and lists members', async () => {
    await ctl(['endpoint', 'health'], plain);
    await ctl(['endpoint', 'health', '-w', 'json'], result => ({
      code: result.code,
      stdout: normaliseText(result.stdout.replace(/"took":"[^"]*"/, '"took":"T"')),
    }));
    // Version, db size and raft indexes differ by nature; the layout and flags must not,
    // but which of three members leads is up to each cluster's election.
    const leads = (isLeader: string) => (members > 1 ? 'LEADS?' : isLeader);
    await ctl(['endpoint', 'status'], result => ({
      code: result.code,
      stdout: result.stdout.replace(
        /^(https?:\/\/127\.0\.0\.1):\d+, [0-9a-f]+, [^,]+, [^,]+, (true|false), (true|false), \d+, \d+, \d+, (.*)$/m,
        (_row, url: string, isLeader: string, isLearner: string, errors: string) =>
          `${url}, ID, VERSION, SIZE, ${leads(isLeader)}, ${isLearner}, TERM, INDEX, APPLIED, ${errors}`,
      ),
    }));
    await ctl(['endpoint', 'status', '-w', 'json'], result => {
      const [entry] = JSON.parse(result.stdout) as {
        Endpoint: string;
        Status: {header: {revision: number; member_id: number}; leader: number};
      }[];
      return {
        code: result.code,
        keys: Object.keys(entry?.Status ?? {}).sort(),
        revision: entry?.Status.header.revision,
        leaderIsSelf: leads(String(entry?.Status.leader === entry?.Status.header.member_id)),
      };
    });
    await ctl(['member', 'list'], (result, side) => plain(membersByName(result), side));
  });

  // MemberList's header carries no revision (etcd's Cluster service fills ids and term only).
  it('lists members as JSON', async () => {
    await ctl(['member', 'list', '-w', 'json'], (result, side) =>
      json(membersByName(result), side),
    );
  });

  it('asks every member for its status, health and hash, and defragments them all', async () => {
    await ctl(['endpoint', 'health'], plain, {}, allEndpointsOf);
    await ctl(['endpoint', 'status', '-w', 'json'], statusRows, {}, allEndpointsOf);
    await ctl(
      ['endpoint', 'hashkv'],
      result => ({
        code: result.code,
        // The hashes differ (see maintenance.test.ts); the rows must not.
        stdout: normaliseText(result.stdout).replace(/, \d+$/gm, ', HASH'),
      }),
      {},
      allEndpointsOf,
    );
    await ctl(['defrag'], plain, {}, allEndpointsOf);
  });

  it.runIf(members > 1)('moves the leader to a follower', async () => {
    const statusOf = async (side: Side) =>
      statusEntries(
        (await runCtl(allEndpointsOf(side), [...side.ctlFlags, 'endpoint', 'status', '-w', 'json']))
          .stdout,
      );
    const followerOf = new Map<Side, string>();
    for (const side of pair.sides) {
      const follower = (await statusOf(side)).find(e => !e.isLeader);
      if (follower === undefined) throw new Error(`${side.name}: no follower`);
      followerOf.set(side, follower.memberId);
    }
    await ctl(side => ['move-leader', followerOf.get(side) ?? ''], plain, {}, allEndpointsOf);
    for (const side of pair.sides) {
      const leaders = (await statusOf(side)).filter(e => e.isLeader);
      expect(
        leaders.map(e => e.memberId),
        side.name,
      ).toEqual([followerOf.get(side)]);
    }
    await ctl(['move-leader', 'ffff'], plain, {}, allEndpointsOf);
  });

  it('saves a snapshot', async () => {
    await ctl(
      side => ['snapshot', 'save', join(dir, `${side.name}.db`)],
      result => ({
        code: result.code,
        stdout: result.stdout.replace(/saved at .*/, 'saved at FILE'),
        stderr: withoutLogLines(result.stderr),
      }),
    );
  });

  it('saves a snapshot that etcdctl can read back', async () => {
    await Promise.all(
      pair.sides.map(side =>
        runCtl(endpointOf(side), [
          ...side.ctlFlags,
          'snapshot',
          'save',
          join(dir, `${side.name}-2.db`),
        ]),
      ),
    );
    await ctl(
      side => ['snapshot', 'status', join(dir, `${side.name}-2.db`), '-w', 'json'],
      result => {
        const parsed =
          result.code === 0 ? (JSON.parse(result.stdout) as Record<string, unknown>) : {};
        return {
          code: result.code,
          revision: parsed.revision,
          keys: Object.keys(parsed).sort(),
          stderr: withoutLogLines(result.stderr).replace(dir, 'DIR'),
        };
      },
    );
  });

  it('lists alarms as JSON', async () => {
    await ctl(['alarm', 'list', '-w', 'json'], json);
  });

  it('defragments, lists alarms and compacts', async () => {
    await ctl(['defrag'], plain);
    await ctl(['alarm', 'list'], plain);
    await ctl(['put', 'l/a', '1']);
    const start = await ctl(['get', 'l/a', '-w', 'json'], json);
    const rev = (start as {stdout: {header: {revision: number}}[]}).stdout[0]?.header.revision ?? 0;
    await ctl(['compaction', String(rev - 1)], plain);
    await ctl(['compaction', String(rev - 2)], plain);
    await ctl(['compaction', String(rev + 100)], plain);
    await ctl(['compaction', '--physical', String(rev)], plain);
    await ctl(['get', 'l/a', `--rev=${rev - 1}`], plain);
    await ctl(['watch', `--rev=${rev - 1}`, 'l/a'], plain, {timeoutMs: 3000});
  });

  it('prints tables, hex and JSON time-to-live like etcd', async () => {
    await ctl(['put', 'n/a', 'x']);
    await ctl(['put', 'n/b', 'y']);
    await ctl(['get', 'n/', '--prefix', '-w', 'table']);
    await ctl(['get', 'n/', '--prefix', '--hex']);
    await ctl(['get', 'n/', '--prefix', '-w', 'protobuf'], result => ({
      code: result.code,
      // The protobuf header holds the cluster and member ids; the rest must match.
      length: result.stdout.length > 0,
    }));
    await ctl(['del', 'n/a', '--from-key', '--prev-kv']);
    // Synod's member ids are shorter than etcd's, which only changes the column width.
    await ctl(['member', 'list', '-w', 'table'], result => ({
      code: result.code,
      stdout: normaliseText(membersByName(result).stdout).replace(/-+/g, '-').replace(/ +/g, ' '),
    }));
    await ctl(['put', 'n/c', 'z', '--lease=zz']);
    await ctl(['lease', 'timetolive', '1234', '-w', 'json'], json);
  });

  it('observes an election with --listen', async () => {
    const listen = Promise.all(
      pair.sides.map(side =>
        runCtl(endpointOf(side), [...side.ctlFlags, 'elect', '-l', 'o-election'], {
          stopAfterLines: 2,
        }),
      ),
    );
    // Give the listeners time to subscribe before the campaign starts.
    await new Promise(resolve => setTimeout(resolve, 300));
    await ctl(['elect', 'o-election', 'leader-value'], plain, {stopAfterLines: 2});
    const [e, s] = await listen;
    expect(normaliseText(s?.stdout ?? '')).toEqual(normaliseText(e?.stdout ?? ''));
  });

  it('reads a value from stdin, keeps a lease alive and locks with a TTL', async () => {
    await ctl(['put', 'p/a'], plain, {stdin: 'from stdin'});
    await ctl(['get', 'p/a']);
    const granted = new Map<Side, string>();
    await Promise.all(
      pair.sides.map(async side => {
        const out = await runCtl(endpointOf(side), [...side.ctlFlags, 'lease', 'grant', '60']);
        granted.set(side, /lease (\S+) granted/.exec(out.stdout)?.[1] ?? 'missing-lease');
      }),
    );
    await ctl(side => ['lease', 'keep-alive', granted.get(side) ?? ''], plain, {
      stopAfterLines: 1,
    });
    await ctl([
      'lock',
      '--ttl=5',
      'p-lock',
      '--',
      'sh',
      '-c',
      'echo "$ETCD_LOCK_KEY" | cut -d/ -f1',
    ]);
    await ctl(['endpoint', 'hashkv'], result => ({
      code: result.code,
      // The hash differs (see maintenance.test.ts); the layout must not.
      stdout: normaliseText(result.stdout).replace(/, \d+$/m, ', HASH'),
    }));
  });
});
