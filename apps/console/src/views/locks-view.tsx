import {bytesFromBase64, displayText} from '../bytes.js';
import type {ContenderKey} from '../concurrency-keys.js';
import {findContests} from '../concurrency-keys.js';
import type {EtcdGateway} from '../etcd-gateway.js';
import {ErrorBox, hexId, usePoll} from '../ui.js';
import {prefixRange} from './keys-view.js';

/** Keys scanned for lock and election layouts. */
const scanLimit = 5000;

/**
 * Who holds each lock and who leads each election, read from the keys etcd's concurrency
 * layout leaves (`<name>/<lease in hex>`, the oldest key first in line). Only keys the user
 * may read are seen.
 */
export function LocksView({gateway}: {readonly gateway: EtcdGateway}) {
  const scan = usePoll(
    async signal => {
      const answer = await gateway.range({...prefixRange(''), limit: scanLimit}, signal);
      const keys: ContenderKey[] = (answer.kvs ?? []).map(kv => ({
        key: bytesFromBase64(kv.key),
        value: bytesFromBase64(kv.value),
        createRevision: Number(kv.create_revision ?? 0),
        lease: kv.lease ?? '0',
      }));
      return {contests: findContests(keys), more: answer.more === true};
    },
    3000,
    [gateway],
  );
  return (
    <div class="view">
      <p class="muted">
        Locks and elections in etcd's layout (<code>etcdctl lock</code>, <code>etcdctl elect</code>,
        the Lock and Election services, Synod's recipes): a key{' '}
        <code>&lt;name&gt;/&lt;lease id in hex&gt;</code> on that lease per contender; the oldest
        one holds the lock or leads the election.
      </p>
      <ErrorBox error={scan.error} />
      {scan.data?.more === true ? (
        <p class="muted">Only the first {scanLimit} keys were scanned.</p>
      ) : null}
      {scan.data === undefined ? null : scan.data.contests.length === 0 ? (
        <p class="muted">No lock is held and no election has a leader.</p>
      ) : (
        <table data-testid="locks">
          <thead>
            <tr>
              <th>Name</th>
              <th>Holder / leader</th>
              <th>Value (an election's proposal)</th>
              <th>Waiting</th>
            </tr>
          </thead>
          <tbody>
            {scan.data.contests.map(contest => (
              <tr key={contest.name}>
                <td class="mono">{contest.name}</td>
                <td class="mono">
                  <Contender kv={contest.owner} />
                </td>
                <td class="mono clip">{displayText(contest.owner.value.subarray(0, 200))}</td>
                <td class="mono">
                  {contest.waiting.length === 0 ? (
                    <span class="muted">none</span>
                  ) : (
                    contest.waiting.map(kv => (
                      <div key={kv.lease}>
                        <Contender kv={kv} />
                      </div>
                    ))
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}

function Contender({kv}: {readonly kv: ContenderKey}) {
  return (
    <span title={displayText(kv.key)}>
      lease {hexId(kv.lease)} <span class="muted">(since revision {kv.createRevision})</span>
    </span>
  );
}
