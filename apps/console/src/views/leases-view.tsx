import {bytesFromBase64, displayText} from '../bytes.js';
import type {EtcdGateway, LeaseTimeToLive} from '../etcd-gateway.js';
import {GatewayError} from '../etcd-gateway.js';
import {ErrorBox, hexId, usePoll} from '../ui.js';

/** A lease, and whether the user may see its keys. */
interface LeaseShown extends LeaseTimeToLive {
  /** etcd lists a lease's keys only to a user who may read every one of them. */
  readonly keysHidden?: boolean;
}

/** A lease's TTLs and keys, or its TTLs alone when the user may not read all its keys. */
async function leaseOf(gateway: EtcdGateway, id: string, signal: AbortSignal): Promise<LeaseShown> {
  try {
    return await gateway.call<LeaseTimeToLive>('lease/timetolive', {ID: id, keys: true}, signal);
  } catch (error) {
    if (!(error instanceof GatewayError && error.isPermissionDenied)) throw error;
    const ttl = await gateway.call<LeaseTimeToLive>('lease/timetolive', {ID: id}, signal);
    return {...ttl, keysHidden: true};
  }
}

/** Leases shown with their keys at once; the rest are listed by id only. */
const detailLimit = 200;

/** Every lease, its remaining and granted TTL, and the keys attached to it. */
export function LeasesView({gateway}: {readonly gateway: EtcdGateway}) {
  const leases = usePoll(
    async signal => {
      const list = await gateway.call<{leases?: {ID?: string}[]}>('lease/leases', {}, signal);
      const ids = (list.leases ?? []).map(l => l.ID ?? '0');
      const detailed = await Promise.all(
        ids.slice(0, detailLimit).map(id => leaseOf(gateway, id, signal)),
      );
      return {count: ids.length, detailed};
    },
    3000,
    [gateway],
  );
  return (
    <div class="view">
      <ErrorBox error={leases.error} />
      {leases.data === undefined ? (
        leases.error === undefined ? (
          <p>Loading…</p>
        ) : null
      ) : (
        <>
          <p class="muted">
            {leases.data.count} lease{leases.data.count === 1 ? '' : 's'}
            {leases.data.count > detailLimit ? `, first ${detailLimit} shown` : ''}
          </p>
          <table data-testid="leases">
            <thead>
              <tr>
                <th>Lease</th>
                <th>TTL left</th>
                <th>Granted TTL</th>
                <th>Keys</th>
              </tr>
            </thead>
            <tbody>
              {leases.data.detailed.map(lease => (
                <tr key={lease.ID} data-lease={hexId(lease.ID)}>
                  <td class="mono">{hexId(lease.ID)}</td>
                  <td>{lease.TTL === '-1' ? 'expired' : `${lease.TTL ?? '0'} s`}</td>
                  <td>{lease.grantedTTL ?? '0'} s</td>
                  <td class="mono">
                    {lease.keysHidden === true ? (
                      <span class="muted" data-testid="keys-hidden">
                        hidden: your roles may not read every key on this lease
                      </span>
                    ) : (lease.keys ?? []).length === 0 ? (
                      <span class="muted">none</span>
                    ) : (
                      (lease.keys ?? []).map(k => (
                        <div key={k}>{displayText(bytesFromBase64(k))}</div>
                      ))
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
    </div>
  );
}
