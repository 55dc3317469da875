import {bytesFromBase64} from '../bytes.js';
import type {EtcdGateway, LeaseTimeToLive} from '../etcd-gateway.js';
import {parsePrometheusText} from '../prometheus-text.js';
import {ErrorBox, formatBytes, usePoll} from '../ui.js';
import type {ZkFigure} from '../zk-figures.js';
import {zkFiguresOf} from '../zk-figures.js';
import type {ZkSessionRecord} from '../zk-sessions.js';
import {zkSessionOf, zkSessionPrefix, znodePathOf} from '../zk-sessions.js';
import {prefixRange} from './keys-view.js';

/** Sessions listed with their ephemerals; a cluster with more says how many it has. */
const sessionLimit = 200;

interface ZkSessionShown extends ZkSessionRecord {
  /** Seconds left on the session's lease, -1 once it expired. */
  readonly ttlSeconds: number;
  readonly ephemerals: readonly string[];
}

/** Every session of the cluster, from its record and its lease (TTL left, ephemeral znodes). */
async function zkSessions(
  gateway: EtcdGateway,
  signal: AbortSignal,
): Promise<{sessions: ZkSessionShown[]; more: boolean}> {
  const answer = await gateway.range(
    {...prefixRange(zkSessionPrefix), limit: sessionLimit},
    signal,
  );
  const records = (answer.kvs ?? [])
    .map(kv => zkSessionOf(bytesFromBase64(kv.key), bytesFromBase64(kv.value)))
    .filter(r => r !== undefined);
  const sessions = await Promise.all(
    records.map(async record => {
      const lease = await gateway.call<LeaseTimeToLive>(
        'lease/timetolive',
        {ID: record.lease, keys: true},
        signal,
      );
      const ephemerals = (lease.keys ?? [])
        .map(k => znodePathOf(bytesFromBase64(k)))
        .filter(p => p !== undefined)
        .sort();
      return {...record, ttlSeconds: Number(lease.TTL ?? -1), ephemerals};
    }),
  );
  return {sessions, more: answer.more === true};
}

function shown(f: ZkFigure): string {
  if (f.unit === 'bytes') return formatBytes(f.value);
  if (f.unit === 'ms') return `${f.value} ms`;
  return String(f.value);
}

/**
 * What this member's `/metrics` says of its ZooKeeper port: connections and sessions,
 * znodes, watches, traffic and latency, the figures `mntr` reports; and the cluster's
 * sessions one by one, read from their records in the keyspace and their leases.
 */
export function ZooKeeperView({gateway}: {readonly gateway: EtcdGateway}) {
  const figures = usePoll(
    async signal => zkFiguresOf(parsePrometheusText(await gateway.metrics(signal))),
    2000,
    [gateway],
  );
  const sessions = usePoll(signal => zkSessions(gateway, signal), 2000, [gateway]);
  return (
    <div class="view">
      <ErrorBox error={figures.error} />
      {figures.data === undefined ? (
        figures.error === undefined ? (
          <p>Loading…</p>
        ) : null
      ) : figures.data.length === 0 ? (
        <p class="muted" data-testid="zk-none">
          This member has no ZooKeeper port (<code>--listen-zk-urls</code>).
        </p>
      ) : (
        <>
          <p class="muted">
            From this member's /metrics (<code>synod_zk_*</code>), refreshed every 2 s; the same
            figures as ZooKeeper's <code>mntr</code>.
          </p>
          <table data-testid="zookeeper">
            <thead>
              <tr>
                <th>Figure</th>
                <th>Value</th>
                <th>mntr</th>
              </tr>
            </thead>
            <tbody>
              {figures.data.map(f => (
                <tr key={f.mntr}>
                  <td>{f.label}</td>
                  <td class="mono">{shown(f)}</td>
                  <td class="mono muted">{f.mntr}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
      <section>
        <h2>Sessions</h2>
        <ErrorBox error={sessions.error} />
        {sessions.data === undefined ? null : sessions.data.sessions.length === 0 ? (
          <p class="muted" data-testid="zk-no-sessions">
            No ZooKeeper session is open in the cluster.
          </p>
        ) : (
          <>
            <p class="muted">
              Every session of the cluster, whichever member it is connected to: its record under{' '}
              <code>{zkSessionPrefix}</code> and its lease.
              {sessions.data.more ? ` The first ${sessionLimit} are shown.` : ''}
            </p>
            <table data-testid="zk-sessions">
              <thead>
                <tr>
                  <th>Session</th>
                  <th>Timeout</th>
                  <th>Expires in</th>
                  <th>Ephemeral znodes</th>
                </tr>
              </thead>
              <tbody>
                {sessions.data.sessions.map(session => (
                  <tr key={session.idHex} data-session={session.idHex}>
                    <td class="mono">0x{session.idHex}</td>
                    <td>{session.timeoutMs} ms</td>
                    <td>{session.ttlSeconds < 0 ? 'expired' : `${session.ttlSeconds} s`}</td>
                    <td class="mono">
                      {session.ephemerals.length === 0 ? (
                        <span class="muted">none</span>
                      ) : (
                        session.ephemerals.map(path => <div key={path}>{path}</div>)
                      )}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </>
        )}
      </section>
    </div>
  );
}
