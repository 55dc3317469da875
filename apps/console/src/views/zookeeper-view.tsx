import type {EtcdGateway} from '../etcd-gateway.js';
import {parsePrometheusText} from '../prometheus-text.js';
import {ErrorBox, formatBytes, usePoll} from '../ui.js';
import type {ZkFigure} from '../zk-figures.js';
import {zkFiguresOf} from '../zk-figures.js';

function shown(f: ZkFigure): string {
  if (f.unit === 'bytes') return formatBytes(f.value);
  if (f.unit === 'ms') return `${f.value} ms`;
  return String(f.value);
}

/**
 * What this member's `/metrics` says of its ZooKeeper port: connections and sessions,
 * znodes, watches, traffic and latency, the figures `mntr` reports. Individual sessions are
 * not listed: no API the console may call names them.
 */
export function ZooKeeperView({gateway}: {readonly gateway: EtcdGateway}) {
  const figures = usePoll(
    async signal => zkFiguresOf(parsePrometheusText(await gateway.metrics(signal))),
    2000,
    [gateway],
  );
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
    </div>
  );
}
