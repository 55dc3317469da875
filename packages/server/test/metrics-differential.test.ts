import {readFileSync} from 'node:fs';
import {mkdtemp, rm} from 'node:fs/promises';
import {tmpdir} from 'node:os';
import {join} from 'node:path';

import {MaintenanceDefinition} from '@synod/proto';
import type {EtcdCluster} from '@synod/testing';
import {etcdSkipReason, freePorts, startEtcd, startSynod, waitFor} from '@synod/testing';
import {createChannel, createClient} from 'nice-grpc';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';

import {runCtl} from './differential/etcdctl.js';
import type {MetricFamily} from './support/prometheus-text.js';
import {quantileBetween, sampleSum, scrape} from './support/prometheus-text.js';

/**
 * Synod's `/metrics` against etcd's, scraped from real three-member clusters of each: every
 * family etcd's Grafana dashboard and alerting rules (etcd's `contrib/mixin`) read is exported
 * with etcd's type, label names, help text and buckets; every etcd family is listed in
 * docs/observability.md, as exported (then with etcd's type, labels, help and buckets) or as
 * lacking, with its reason; the alerts' expressions, evaluated by hand
 * on two scrapes, hold as they should for a healthy cluster, and etcdMembersDown's peer-failure
 * term turns true once a member is killed.
 */

/** What the dashboard and the alert rules read: family, type, label names. */
const required: readonly (readonly [string, string, readonly string[]])[] = [
  ['etcd_server_has_leader', 'gauge', []],
  ['etcd_server_leader_changes_seen_total', 'counter', []],
  ['etcd_server_proposals_failed_total', 'counter', []],
  ['etcd_server_proposals_committed_total', 'gauge', []],
  ['etcd_server_proposals_applied_total', 'gauge', []],
  ['etcd_server_proposals_pending', 'gauge', []],
  ['etcd_disk_wal_fsync_duration_seconds', 'histogram', []],
  ['etcd_disk_backend_commit_duration_seconds', 'histogram', []],
  ['etcd_network_peer_round_trip_time_seconds', 'histogram', ['To']],
  ['etcd_network_peer_sent_bytes_total', 'counter', ['To']],
  ['etcd_network_peer_received_bytes_total', 'counter', ['From']],
  ['etcd_network_client_grpc_received_bytes_total', 'counter', []],
  ['etcd_network_client_grpc_sent_bytes_total', 'counter', []],
  ['grpc_server_started_total', 'counter', ['grpc_method', 'grpc_service', 'grpc_type']],
  [
    'grpc_server_handled_total',
    'counter',
    ['grpc_code', 'grpc_method', 'grpc_service', 'grpc_type'],
  ],
  ['grpc_server_handling_seconds', 'histogram', ['grpc_method', 'grpc_service', 'grpc_type']],
  ['grpc_server_msg_received_total', 'counter', ['grpc_method', 'grpc_service', 'grpc_type']],
  ['grpc_server_msg_sent_total', 'counter', ['grpc_method', 'grpc_service', 'grpc_type']],
  ['etcd_mvcc_db_total_size_in_bytes', 'gauge', []],
  ['etcd_mvcc_db_total_size_in_use_in_bytes', 'gauge', []],
  ['etcd_server_quota_backend_bytes', 'gauge', []],
  ['etcd_server_id', 'gauge', ['server_id']],
  ['etcd_server_version', 'gauge', ['server_version']],
  ['etcd_cluster_version', 'gauge', ['cluster_version']],
  ['etcd_server_heartbeat_send_failures_total', 'counter', []],
  ['etcd_server_slow_apply_total', 'counter', []],
  ['etcd_server_slow_read_indexes_total', 'counter', []],
  ['etcd_snap_fsync_duration_seconds', 'histogram', []],
  ['etcd_snap_db_fsync_duration_seconds', 'histogram', []],
  ['etcd_snap_db_save_total_duration_seconds', 'histogram', []],
  ['process_cpu_seconds_total', 'counter', []],
  ['process_resident_memory_bytes', 'gauge', []],
  ['process_virtual_memory_bytes', 'gauge', []],
  ['process_open_fds', 'gauge', []],
  ['process_max_fds', 'gauge', []],
  ['process_start_time_seconds', 'gauge', []],
];

const observabilityDoc = () =>
  readFileSync(new URL('../../../docs/observability.md', import.meta.url), 'utf8');
const familiesIn = (section: string) =>
  new Set([...section.matchAll(/^\| `([a-z_:]+)`/gm)].map(m => m[1] ?? ''));

/** The etcd families docs/observability.md accepts as missing from Synod, with its reasons. */
function acceptedMissing(): Set<string> {
  const doc = observabilityDoc();
  return familiesIn(doc.split('## etcd metrics Synod does not export')[1]?.split('\n## ')[0] ?? '');
}

/** The etcd families docs/observability.md says Synod exports as etcd does. */
function documentedExported(): Set<string> {
  const doc = observabilityDoc();
  const section = doc.split('## etcd metrics Synod exports')[1] ?? '';
  return familiesIn(section.split('## etcd metrics Synod does not export')[0] ?? '');
}

/** The label names docs/observability.md's table of exported etcd families gives each family. */
function documentedLabels(): Map<string, string[]> {
  const doc = observabilityDoc();
  const section = doc.split('## etcd metrics Synod exports')[1]?.split('## etcd metrics Synod')[0];
  const labels = new Map<string, string[]>();
  for (const row of (section ?? '').matchAll(/^\| `([a-z_:]+)`\s*\|[^|]*\|([^|]*)\|/gm)) {
    labels.set(
      row[1] ?? '',
      [...(row[2] ?? '').matchAll(/`(\w+)`/g)].map(l => l[1] ?? ''),
    );
  }
  return labels;
}

/** A PromQL expression shipped in docs/observability/, and where it comes from. */
interface ShippedQuery {
  readonly source: string;
  readonly expr: string;
}

/** Every expression of the shipped alert rules and Grafana dashboard. */
function shippedQueries(): ShippedQuery[] {
  const dir = new URL('../../../docs/observability/', import.meta.url);
  // The rules file keeps each expression on one line, so no YAML parser is needed here.
  const rules = readFileSync(new URL('synod-alerts.yaml', dir), 'utf8');
  const alertNames = [...rules.matchAll(/^\s*- alert: (\w+)$/gm)].map(m => m[1] ?? '');
  const alerts = [...rules.matchAll(/^\s*expr: (.+)$/gm)].map((m, i) => ({
    source: `alert ${alertNames[i] ?? i}`,
    expr: m[1] ?? '',
  }));
  const dashboard = JSON.parse(readFileSync(new URL('synod-dashboard.json', dir), 'utf8')) as {
    panels: {title: string; targets?: {expr: string}[]}[];
  };
  const panels = dashboard.panels.flatMap(p =>
    (p.targets ?? []).map(t => ({source: `panel "${p.title}"`, expr: t.expr})),
  );
  return [...alerts, ...panels];
}

/** Labels Prometheus itself attaches or that a histogram's series carry. */
const scrapeLabels = new Set(['job', 'instance', 'endpoint', 'le']);

/**
 * The metric names, label matchers and grouping labels of a PromQL expression: enough of
 * PromQL to check what an expression reads, not to evaluate it.
 */
function selectorsOf(expr: string): {metrics: Map<string, string[]>; grouping: string[]} {
  const grouping: string[] = [];
  let rest = expr.replace(/\b(?:by|without|on|ignoring)\s*\(([^)]*)\)/g, (_, labels: string) => {
    grouping.push(
      ...labels
        .split(',')
        .map(l => l.trim())
        .filter(l => l !== ''),
    );
    return ' ';
  });
  rest = rest.replace(/\[[^\]]*\]/g, ' ');
  const metrics = new Map<string, string[]>();
  for (const m of rest.matchAll(/([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(\{[^}]*\})?\s*(\()?/g)) {
    const [, name = '', braces, call] = m;
    if (call !== undefined || ['bool', 'and', 'or', 'unless', 'offset'].includes(name)) continue;
    const labels = [...(braces ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)/g)];
    metrics.set(name, [...(metrics.get(name) ?? []), ...labels.map(l => l[1] ?? '')]);
  }
  return {metrics, grouping};
}

/** Puts `count` keys through the JSON gateway, which etcd 3.4 and Synod both serve. */
async function putKeys(clientUrl: string, count: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    const body = JSON.stringify({
      key: Buffer.from(`metrics-${i}`).toString('base64'),
      value: Buffer.from(`value-${i}`).toString('base64'),
    });
    const response = await fetch(`${clientUrl}/v3/kv/put`, {method: 'POST', body});
    expect(response.status).toBe(200);
  }
}

/** A histogram's bounds as numbers: Go writes 1048576 as `1.048576e+06`, prom-client does not. */
const bucketBounds = (bounds: Set<string>) =>
  [...bounds]
    .map(Number)
    .sort((x, y) => x - y)
    .join(' ');

const rttCount = (families: Map<string, MetricFamily>) =>
  sampleSum(families, 'etcd_network_peer_round_trip_time_seconds_count');

describe.skipIf(etcdSkipReason !== undefined)('/metrics of Synod and etcd', () => {
  const clusters: Record<'etcd' | 'synod', EtcdCluster | undefined> = {
    etcd: undefined,
    synod: undefined,
  };
  const scrapes: Record<'etcd' | 'synod', Map<string, MetricFamily>> = {
    etcd: new Map(),
    synod: new Map(),
  };
  const before: Record<'etcd' | 'synod', Map<string, MetricFamily>> = {
    etcd: new Map(),
    synod: new Map(),
  };

  beforeAll(async () => {
    const options = {members: 3, extraArgs: ['--metrics=extensive']};
    [clusters.etcd, clusters.synod] = await Promise.all([startEtcd(options), startSynod(options)]);
    for (const name of ['etcd', 'synod'] as const) {
      const url = clusters[name]?.endpoints[0] ?? '';
      before[name] = await scrape(`${url}/metrics`);
      await putKeys(url, 20);
      // The backend commits its batch within 100 ms; peers are probed every few seconds.
      await waitFor(
        async () => {
          scrapes[name] = await scrape(`${url}/metrics`);
          return (
            rttCount(scrapes[name]) > 0 &&
            sampleSum(scrapes[name], 'etcd_disk_backend_commit_duration_seconds_count') >
              sampleSum(before[name], 'etcd_disk_backend_commit_duration_seconds_count')
          );
        },
        15_000,
        `${name}: a peer round trip and a backend commit in /metrics`,
      );
    }
  }, 60_000);

  afterAll(async () => {
    await clusters.etcd?.stop();
    await clusters.synod?.stop();
  });

  it("exports every family etcd's dashboard and alerts read, with etcd's type, labels, help and buckets", () => {
    const problems: string[] = [];
    for (const [name, type, labels] of required) {
      const ours = scrapes.synod.get(name);
      const theirs = scrapes.etcd.get(name);
      if (ours === undefined) {
        problems.push(`${name}: missing`);
        continue;
      }
      if (ours.type !== type) problems.push(`${name}: type ${ours.type}, etcd's is ${type}`);
      const names = [...ours.labelNames].sort().join(',');
      if (names !== [...labels].sort().join(',')) problems.push(`${name}: labels ${names}`);
      if (theirs === undefined) continue;
      if (ours.help !== theirs.help)
        problems.push(`${name}: help "${ours.help}" vs "${theirs.help}"`);
      const buckets = (f: MetricFamily) => bucketBounds(f.buckets);
      if (buckets(ours) !== buckets(theirs)) {
        problems.push(`${name}: buckets ${buckets(ours)} vs etcd's ${buckets(theirs)}`);
      }
    }
    expect(problems).toEqual([]);
  });

  it('shares type and label names with etcd on every family both export', () => {
    const problems: string[] = [];
    for (const [name, theirs] of scrapes.etcd) {
      const ours = scrapes.synod.get(name);
      if (ours === undefined) continue;
      if (ours.type !== theirs.type) problems.push(`${name}: ${ours.type} vs ${theirs.type}`);
      if (ours.samples.length === 0 || theirs.samples.length === 0) continue;
      const names = (f: MetricFamily) => [...f.labelNames].sort().join(',');
      if (names(ours) !== names(theirs))
        problems.push(`${name}: {${names(ours)}} vs {${names(theirs)}}`);
    }
    expect(problems).toEqual([]);
  });

  it('lacks only the etcd families docs/observability.md lists, none of them read by the dashboard or alerts', () => {
    const accepted = acceptedMissing();
    const missing = [...scrapes.etcd.keys()].filter(n => !scrapes.synod.has(n)).sort();
    expect(missing.filter(n => !accepted.has(n))).toEqual([]);
    expect(required.map(([n]) => n).filter(n => accepted.has(n))).toEqual([]);
    // A family Synod has started to export leaves the list of those it lacks.
    expect([...accepted].filter(n => scrapes.synod.has(n))).toEqual([]);
  });

  it("lists every etcd family in docs/observability.md's table of exported families or of missing ones, and exports each family the first lists as etcd does", () => {
    const exported = documentedExported();
    const accepted = acceptedMissing();
    expect([...exported].filter(n => accepted.has(n))).toEqual([]);
    expect([...scrapes.etcd.keys()].filter(n => !exported.has(n) && !accepted.has(n))).toEqual([]);
    const problems: string[] = [];
    for (const name of exported) {
      const ours = scrapes.synod.get(name);
      const theirs = scrapes.etcd.get(name);
      if (ours === undefined) problems.push(`${name}: not exported`);
      if (ours === undefined || theirs === undefined) continue;
      if (ours.type !== theirs.type) problems.push(`${name}: ${ours.type} vs ${theirs.type}`);
      if (ours.help !== theirs.help)
        problems.push(`${name}: help "${ours.help}" vs "${theirs.help}"`);
      const sorted = (set: Set<string>) => [...set].sort().join(' ');
      if (bucketBounds(ours.buckets) !== bucketBounds(theirs.buckets)) {
        problems.push(`${name}: buckets ${bucketBounds(ours.buckets)}`);
      }
      if (ours.samples.length > 0 && theirs.samples.length > 0) {
        if (sorted(ours.labelNames) !== sorted(theirs.labelNames)) problems.push(`${name}: labels`);
      }
    }
    expect(problems).toEqual([]);
  });

  it("exports every metric and label the shipped alert rules and Grafana dashboard read, with etcd's type", () => {
    const queries = shippedQueries();
    expect(queries.length).toBeGreaterThan(30);
    const problems: string[] = [];
    for (const {source, expr} of queries) {
      const {metrics, grouping} = selectorsOf(expr);
      const labelsSeen = new Set<string>(scrapeLabels);
      for (const [name, labels] of metrics) {
        if (name === 'up') continue; // Prometheus' own, one per scraped target
        const histogram = /_(bucket|sum|count)$/.exec(name);
        const base =
          histogram !== null && !scrapes.synod.has(name) ? name.slice(0, histogram.index) : name;
        const ours = scrapes.synod.get(base);
        if (ours === undefined) {
          problems.push(`${source}: ${name} not exported`);
          continue;
        }
        if (base !== name && ours.type !== 'histogram')
          problems.push(`${source}: ${base} is a ${ours.type}`);
        const theirs = scrapes.etcd.get(base);
        if (theirs !== undefined && theirs.type !== ours.type) {
          problems.push(`${source}: ${base} is a ${ours.type}, etcd's a ${theirs.type}`);
        }
        // A counter vector with no sample yet shows no labels: the documented table names them.
        const declared = documentedLabels().get(base) ?? [];
        for (const label of [...ours.labelNames, ...declared]) labelsSeen.add(label);
        for (const label of labels) {
          if (!scrapeLabels.has(label) && !ours.labelNames.has(label)) {
            problems.push(`${source}: ${base} has no label ${label}`);
          }
        }
      }
      for (const label of grouping) {
        if (!labelsSeen.has(label))
          problems.push(`${source}: groups by ${label}, which nothing has`);
      }
    }
    expect(problems).toEqual([]);
  });

  it('has every served gRPC method and code exported from zero, as go-grpc-prometheus does', () => {
    const started = scrapes.synod.get('grpc_server_started_total')?.samples ?? [];
    const methods = new Set(started.map(s => `${s.labels.grpc_service}/${s.labels.grpc_method}`));
    for (const s of scrapes.etcd.get('grpc_server_started_total')?.samples ?? []) {
      expect(methods).toContain(`${s.labels.grpc_service}/${s.labels.grpc_method}`);
    }
    const putCodes = (scrapes.synod.get('grpc_server_handled_total')?.samples ?? []).filter(
      s => s.labels.grpc_method === 'Put',
    );
    expect(putCodes).toHaveLength(17);
  });

  it("leaves etcd's alerts quiet on a healthy cluster, by their expressions evaluated on two scrapes", () => {
    for (const name of ['etcd', 'synod'] as const) {
      const now = scrapes[name];
      const then = before[name];
      // etcdNoLeader: etcd_server_has_leader == 0
      expect(sampleSum(now, 'etcd_server_has_leader'), name).toBe(1);
      // etcdHighNumberOfLeaderChanges: increase(...leader_changes_seen_total[15m]) >= 4
      const changes = sampleSum(now, 'etcd_server_leader_changes_seen_total');
      expect(changes, name).toBeGreaterThanOrEqual(1);
      expect(changes, name).toBeLessThan(4);
      // etcdHighFsyncDurations / etcdHighCommitDurations: p99 over the puts above 0.5 s / 0.25 s
      const fsyncs =
        sampleSum(now, 'etcd_disk_wal_fsync_duration_seconds_count') -
        sampleSum(then, 'etcd_disk_wal_fsync_duration_seconds_count');
      expect(fsyncs, name).toBeGreaterThanOrEqual(20);
      expect(quantileBetween(then, now, 'etcd_disk_wal_fsync_duration_seconds', 0.99)).toBeLessThan(
        0.5,
      );
      expect(
        quantileBetween(then, now, 'etcd_disk_backend_commit_duration_seconds', 0.99),
      ).toBeLessThan(0.25);
      // etcdMemberCommunicationSlow: p99 round trip above 0.15 s. The first probes run while
      // the members start on a loaded test machine, so only a sane bound is held here.
      const rtt = quantileBetween(
        new Map(),
        now,
        'etcd_network_peer_round_trip_time_seconds',
        0.99,
      );
      expect(rtt, name).toBeGreaterThan(0);
      expect(rtt, name).toBeLessThan(1);
      // etcdHighNumberOfFailedGRPCRequests: failed / handled above 1 %
      const failed = ['Unknown', 'FailedPrecondition', 'ResourceExhausted', 'Internal']
        .concat(['Unavailable', 'DataLoss', 'DeadlineExceeded'])
        .reduce((n, code) => n + sampleSum(now, 'grpc_server_handled_total', {grpc_code: code}), 0);
      const handled = sampleSum(now, 'grpc_server_handled_total');
      expect(handled, name).toBeGreaterThanOrEqual(20);
      expect((100 * failed) / handled, name).toBeLessThan(1);
      // The Put calls counted as etcd counts them: started, handled OK, one message each way.
      const put = {grpc_method: 'Put', grpc_service: 'etcdserverpb.KV'};
      expect(sampleSum(now, 'grpc_server_handled_total', {...put, grpc_code: 'OK'})).toBe(20);
      expect(sampleSum(now, 'grpc_server_msg_received_total', put)).toBe(20);
      expect(sampleSum(now, 'grpc_server_handling_seconds_count', put)).toBe(20);
      expect(sampleSum(now, 'etcd_network_client_grpc_received_bytes_total'), name).toBeGreaterThan(
        20 * 10,
      );
      // etcdDatabaseQuotaLowSpace: size / quota above 95 %
      const used =
        sampleSum(now, 'etcd_mvcc_db_total_size_in_bytes') /
        sampleSum(now, 'etcd_server_quota_backend_bytes');
      expect(used * 100, name).toBeLessThan(95);
      // etcdHighNumberOfFailedProposals: rate(proposals_failed_total) above 5/s
      expect(sampleSum(now, 'etcd_server_proposals_failed_total'), name).toBe(0);
    }
  });

  it('moves the store, lease and maintenance counters as etcd does for the same requests', async () => {
    /** Every member's scrape, summed: puts count on each member, renewals on the leader. */
    const scrapeAll = (name: 'etcd' | 'synod') =>
      Promise.all((clusters[name]?.endpoints ?? []).map(url => scrape(`${url}/metrics`)));
    const sum = (all: Map<string, MetricFamily>[], sample: string, labels = {}) =>
      all.reduce((n, families) => n + sampleSum(families, sample, labels), 0);
    const counted = [
      'etcd_mvcc_put_total',
      'etcd_debugging_mvcc_put_total',
      'etcd_mvcc_delete_total',
      'etcd_debugging_mvcc_delete_total',
      'etcd_mvcc_txn_total',
      'etcd_debugging_mvcc_txn_total',
      'etcd_debugging_mvcc_total_put_size_in_bytes',
      'etcd_debugging_lease_granted_total',
      'etcd_debugging_lease_renewed_total',
      'etcd_debugging_lease_revoked_total',
      'etcd_debugging_lease_ttl_total_count',
      'etcd_debugging_lease_ttl_total_sum',
      'etcd_debugging_server_lease_expired_total',
      'etcd_debugging_mvcc_index_compaction_pause_duration_milliseconds_count',
      'etcd_debugging_mvcc_db_compaction_total_duration_milliseconds_count',
      'etcd_disk_backend_defrag_duration_seconds_count',
      'etcd_mvcc_hash_rev_duration_seconds_count',
      'etcd_mvcc_hash_duration_seconds_count',
      'etcd_disk_backend_snapshot_duration_seconds_count',
      'etcd_debugging_mvcc_events_total',
    ];
    const moved = [
      'etcd_mvcc_range_total',
      'etcd_debugging_mvcc_range_total',
      'etcd_disk_wal_write_bytes_total',
      'etcd_debugging_mvcc_db_compaction_keys_total',
    ];
    const deltas = await Promise.all(
      (['etcd', 'synod'] as const).map(async name => {
        const address = new URL(clusters[name]?.endpoints[0] ?? '').host;
        const ctl = async (args: string[], options = {}) => {
          const r = await runCtl(address, args, options);
          expect(r.code, `${name}: etcdctl ${args.join(' ')}: ${r.stderr}`).toBe(0);
          return r.stdout;
        };
        const then = await scrapeAll(name);
        await ctl(['put', 'mv-a', '1']);
        await ctl(['put', 'mv-b', '22']);
        await ctl(['get', 'mv-a']);
        await ctl(['get', 'mv-', '--prefix']);
        await ctl(['del', 'mv-b']);
        await ctl(['txn'], {stdin: 'value("mv-a") = "1"\n\nput mv-c 333\nput mv-d 4444\n\n\n'});
        const kept = /lease ([0-9a-f]+) granted/.exec(await ctl(['lease', 'grant', '100']))?.[1];
        await ctl(['lease', 'keep-alive', '--once', kept ?? '']);
        await ctl(['lease', 'revoke', kept ?? '']);
        const expiring = /lease ([0-9a-f]+) granted/.exec(await ctl(['lease', 'grant', '1']))?.[1];
        await ctl(['put', 'mv-l', 'leased', `--lease=${expiring ?? ''}`]);
        const revision = /"revision":(\d+)/.exec(await ctl(['get', 'mv-a', '-w', 'json']))?.[1];
        await ctl(['compact', revision ?? '']);
        await ctl(['defrag']);
        await ctl(['endpoint', 'hashkv']);
        // Maintenance.Hash, which etcdctl does not call.
        const channel = createChannel(address);
        try {
          await createClient(MaintenanceDefinition, channel).hash({});
        } finally {
          channel.close();
        }
        await ctl(['watch', 'mv-a', '--rev=1'], {stopAfterLines: 3});
        const snapshotDir = await mkdtemp(join(tmpdir(), 'metrics-snapshot-'));
        try {
          await ctl(['snapshot', 'save', join(snapshotDir, 'snapshot.db')]);
        } finally {
          await rm(snapshotDir, {recursive: true, force: true});
        }
        let now = then;
        await waitFor(
          async () => {
            now = await scrapeAll(name);
            const expired = sum(now, 'etcd_debugging_server_lease_expired_total');
            const compacted = sum(
              now,
              'etcd_debugging_mvcc_db_compaction_total_duration_milliseconds_count',
            );
            return (
              expired > sum(then, 'etcd_debugging_server_lease_expired_total') &&
              compacted >=
                3 + sum(then, 'etcd_debugging_mvcc_db_compaction_total_duration_milliseconds_count')
            );
          },
          10_000,
          `${name}: the lease expired and every member compacted`,
        );
        const delta = (sample: string, labels = {}) =>
          sum(now, sample, labels) - sum(then, sample, labels);
        expect(sum(now, 'etcd_debugging_mvcc_compact_revision'), name).toBe(3 * Number(revision));
        expect(sum(now, 'etcd_disk_defrag_inflight'), name).toBe(0);
        for (const sample of moved) expect(delta(sample), `${name}: ${sample}`).toBeGreaterThan(0);
        expect(
          delta('etcd_server_client_requests_total', {client_api_version: '3.4'}),
        ).toBeGreaterThan(15);
        return Object.fromEntries(counted.map(sample => [sample, delta(sample)]));
      }),
    );
    expect(deltas[1]).toEqual(deltas[0]);
  }, 40_000);

  it('answers /health as etcd does (etcd 3.4 has no reason field, /livez or /readyz)', async () => {
    const answers: Record<string, string[]> = {};
    for (const name of ['etcd', 'synod'] as const) {
      const url = clusters[name]?.endpoints[0] ?? '';
      answers[name] = [];
      for (const [target, method] of [
        ['/health', 'GET'],
        ['/health?exclude=NOSPACE', 'GET'],
        ['/health?serializable=true', 'GET'],
        ['/health', 'POST'],
      ] as const) {
        const response = await fetch(`${url}${target}`, {method});
        const text = await response.text();
        const health = response.ok ? (JSON.parse(text) as {health: string}).health : text.trim();
        answers[name].push(
          `${method} ${target} ${response.status} ${response.headers.get('content-type') ?? ''} ${health}`,
        );
      }
    }
    expect(answers.synod).toEqual(answers.etcd);
    const synod = clusters.synod?.endpoints[0] ?? '';
    expect(await (await fetch(`${synod}/health`)).text()).toBe('{"health":"true","reason":""}');
    expect(await (await fetch(`${synod}/readyz?verbose`)).text()).toBe(
      '[+]data_corruption ok\n[+]serializable_read ok\n[+]linearizable_read ok\nok\n',
    );
    expect(await (await fetch(`${synod}/livez`)).text()).toBe('ok\n');
  });

  it("turns etcdMembersDown's peer-failure term true once a member is killed, and counts the peer as disconnected", async () => {
    for (const name of ['etcd', 'synod'] as const) {
      const cluster = clusters[name];
      if (cluster === undefined) throw new Error('no cluster');
      const url = cluster.endpoints[0] ?? '';
      const start = sampleSum(
        await scrape(`${url}/metrics`),
        'etcd_network_peer_sent_failures_total',
      );
      const killed = {
        Remote:
          (await scrape(`${cluster.endpoints[2] ?? ''}/metrics`)).get('etcd_server_id')?.samples[0]
            ?.labels.server_id ?? '',
      };
      expect(sampleSum(await scrape(`${url}/metrics`), 'etcd_network_active_peers', killed)).toBe(
        1,
      );
      await cluster.members[2]?.kill('SIGKILL');
      const startedMs = Date.now();
      let failures = start;
      await waitFor(
        async () => {
          failures = sampleSum(
            await scrape(`${url}/metrics`),
            'etcd_network_peer_sent_failures_total',
          );
          return failures > start;
        },
        10_000,
        `${name}: etcd_network_peer_sent_failures_total rising`,
      );
      // rate(etcd_network_peer_sent_failures_total[120s]) > 0.01
      const rate = (failures - start) / Math.max(1, (Date.now() - startedMs) / 1000);
      expect(rate, name).toBeGreaterThan(0.01);
      const family = (await scrape(`${url}/metrics`)).get('etcd_network_peer_sent_failures_total');
      expect([...(family?.labelNames ?? [])], name).toEqual(['To']);
      // The stream to the killed member broke: no longer active, counted once as disconnected.
      await waitFor(
        async () => {
          const now = await scrape(`${url}/metrics`);
          return (
            sampleSum(now, 'etcd_network_active_peers', killed) === 0 &&
            sampleSum(now, 'etcd_network_disconnected_peers_total', killed) === 1
          );
        },
        10_000,
        `${name}: the killed member inactive and disconnected`,
      );
    }
  }, 30_000);
});

describe('snapshots sent to a lagging follower', () => {
  it('are counted and timed on the leader and on the follower, as etcd counts them', async () => {
    // A short log: a follower that misses 30 entries can only catch up from a snapshot.
    const cluster = await startSynod({
      members: 3,
      extraArgs: ['--snapshot-count=10', '--experimental-snapshot-catchup-entries=5'],
    });
    try {
      const all = () => Promise.all(cluster.endpoints.map(url => scrape(`${url}/metrics`)));
      // A follower is down while the leader takes the writes and compacts its log.
      const leader = (await all()).findIndex(f => sampleSum(f, 'etcd_server_is_leader') === 1);
      const behind = leader === 2 ? 1 : 2;
      await cluster.members[behind]?.kill('SIGKILL');
      await putKeys(cluster.endpoints[leader] ?? '', 30);
      await cluster.members[behind]?.restart();
      let scrapes: Map<string, MetricFamily>[] = [];
      const sum = (sample: string) => scrapes.reduce((n, f) => n + sampleSum(f, sample), 0);
      await waitFor(
        async () => {
          scrapes = await all();
          return sum('etcd_network_snapshot_receive_success') >= 1;
        },
        15_000,
        'a snapshot received by the lagging member',
      );
      const follower = scrapes[behind] ?? new Map<string, MetricFamily>();
      expect(sampleSum(follower, 'etcd_network_snapshot_receive_success')).toBeGreaterThanOrEqual(
        1,
      );
      expect(
        sampleSum(follower, 'etcd_network_snapshot_receive_total_duration_seconds_count'),
      ).toBeGreaterThanOrEqual(1);
      await waitFor(
        async () => {
          scrapes = await all();
          return (
            sum('etcd_network_snapshot_send_success') >= 1 &&
            sampleSum(
              scrapes[behind] ?? new Map<string, MetricFamily>(),
              'etcd_server_snapshot_apply_in_progress_total',
            ) === 0
          );
        },
        10_000,
        'the snapshot counted as sent, and applied',
      );
      expect(sum('etcd_network_snapshot_send_total_duration_seconds_count')).toBe(
        sum('etcd_network_snapshot_send_success'),
      );
      expect(sum('etcd_network_snapshot_send_inflights_total')).toBe(0);
      expect(sum('etcd_disk_backend_snapshot_duration_seconds_count')).toBeGreaterThanOrEqual(1);
      expect(sum('etcd_snap_db_save_total_duration_seconds_count')).toBeGreaterThanOrEqual(1);
    } finally {
      await cluster.stop();
    }
  }, 40_000);
});

describe('--listen-metrics-urls', () => {
  it('serves /metrics and the health endpoints, and nothing else, on a port of its own', async () => {
    const [port] = await freePorts(1);
    const cluster = await startSynod({
      extraArgs: [`--listen-metrics-urls=http://127.0.0.1:${port ?? 0}`],
    });
    try {
      const base = `http://127.0.0.1:${port ?? 0}`;
      const families = await scrape(`${base}/metrics`);
      expect(sampleSum(families, 'etcd_server_has_leader')).toBe(1);
      // Scrapes count themselves as Go's handler does: in flight while rendered, then by status.
      const scrapes = (f: Map<string, MetricFamily>) =>
        sampleSum(f, 'promhttp_metric_handler_requests_total', {code: '200'});
      const again = await scrape(`${base}/metrics`);
      expect(scrapes(again)).toBe(scrapes(families) + 1);
      expect(sampleSum(again, 'promhttp_metric_handler_requests_in_flight')).toBe(1);
      expect(families.get('grpc_server_handling_seconds')).toBeUndefined();
      expect((await fetch(`${base}/health`)).status).toBe(200);
      expect(await (await fetch(`${base}/readyz`)).text()).toBe('ok\n');
      expect((await fetch(`${base}/version`)).status).toBe(404);
      expect((await fetch(`${base}/v3/kv/range`)).status).toBe(404);
    } finally {
      await cluster.stop();
    }
  });
});
