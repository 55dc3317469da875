import type {AlarmMember, EtcdGateway, Member, StatusResponse} from '../etcd-gateway.js';
import {ErrorBox, formatBytes, hexId, usePoll} from '../ui.js';

/** One member's own answer to Maintenance.Status, or why it gave none. */
type MemberStatus =
  | {readonly ok: true; readonly status: StatusResponse}
  | {readonly ok: false; readonly error: unknown};

interface ClusterState {
  /** The status of the member that serves the console. */
  readonly status: StatusResponse;
  readonly members: readonly Member[];
  readonly alarms: readonly AlarmMember[];
  /** By member id: what each member says of itself. */
  readonly statuses: ReadonlyMap<string, MemberStatus>;
}

/** A member that does not answer its status within this is shown as unreachable. */
const memberTimeoutMs = 1500;

async function statusOf(
  gateway: EtcdGateway,
  member: Member,
  signal: AbortSignal,
): Promise<MemberStatus> {
  const url = member.clientURLs?.[0];
  if (url === undefined) return {ok: false, error: new Error('not started: no client URL yet')};
  const timeout = AbortSignal.timeout(memberTimeoutMs);
  try {
    return {ok: true, status: await gateway.memberStatus(url, AbortSignal.any([signal, timeout]))};
  } catch (error) {
    if (timeout.aborted) return {ok: false, error: new Error('no answer')};
    // fetch's own failure says only "Failed to fetch".
    return {ok: false, error: error instanceof TypeError ? new Error('cannot connect') : error};
  }
}

/**
 * The members, who leads, raft's term and index, the backend's size and the raised alarms:
 * the cluster as this member sees it, and each member's own term, index and size as that
 * member reports them (as `etcdctl endpoint status --cluster` lists them).
 */
export function ClusterView({gateway}: {readonly gateway: EtcdGateway}) {
  const {data, error} = usePoll<ClusterState>(
    async signal => {
      const [status, list, alarms] = await Promise.all([
        gateway.call<StatusResponse>('maintenance/status', {}, signal),
        gateway.call<{members?: Member[]}>('cluster/member/list', {linearizable: false}, signal),
        gateway.call<{alarms?: AlarmMember[]}>('maintenance/alarm', {action: 'GET'}, signal),
      ]);
      const members = list.members ?? [];
      const statuses = new Map<string, MemberStatus>();
      await Promise.all(
        members.map(async m => {
          statuses.set(
            m.ID ?? '0',
            m.ID === status.header?.member_id
              ? {ok: true, status}
              : await statusOf(gateway, m, signal),
          );
        }),
      );
      return {status, members, alarms: alarms.alarms ?? [], statuses};
    },
    2000,
    [gateway],
  );
  if (data === undefined) return error === undefined ? <p>Loading…</p> : <ErrorBox error={error} />;
  const {status, members, alarms, statuses} = data;
  const leader = status.leader ?? '0';
  const thisMember = status.header?.member_id ?? '';
  const quota = Number(status.dbSizeQuota ?? 0);
  return (
    <div class="view">
      <ErrorBox error={error} />
      <section class="cards">
        <Card
          label="Leader"
          value={leader === '0' ? 'none' : nameOf(members, leader)}
          testId="leader"
        />
        <Card label="Raft term" value={status.raftTerm ?? '0'} />
        <Card label="Raft index" value={status.raftIndex ?? '0'} />
        <Card label="Applied index" value={status.raftAppliedIndex ?? '0'} />
        <Card label="Revision" value={status.header?.revision ?? '0'} />
        <Card
          label="DB size"
          value={formatBytes(status.dbSize)}
          detail={`${formatBytes(status.dbSizeInUse)} in use${quota > 0 ? ` · quota ${formatBytes(quota)}` : ''}`}
        />
        <Card label="Version" value={status.version ?? '?'} />
      </section>
      <section>
        <h2>Alarms</h2>
        {alarms.length === 0 ? (
          <p class="muted" data-testid="alarms">
            No alarm raised.
          </p>
        ) : (
          <ul class="alarms" data-testid="alarms">
            {alarms.map(a => (
              <li key={`${a.memberID ?? ''}-${a.alarm ?? ''}`}>
                <span class="badge bad">{a.alarm ?? 'NONE'}</span> on{' '}
                {nameOf(members, a.memberID ?? '0')}
              </li>
            ))}
          </ul>
        )}
      </section>
      <section>
        <h2>Members</h2>
        <p class="muted">
          Term, indexes, revision and sizes as each member reports them of itself; the cards above
          are the member serving this console.
        </p>
        <table data-testid="members">
          <thead>
            <tr>
              <th>Name</th>
              <th>ID</th>
              <th>Role</th>
              <th>Raft term</th>
              <th>Raft index</th>
              <th>Applied</th>
              <th>Revision</th>
              <th>DB size</th>
              <th>Alarms</th>
              <th>Client URLs</th>
              <th>Peer URLs</th>
            </tr>
          </thead>
          <tbody>
            {members.map(m => {
              const own = statuses.get(m.ID ?? '0');
              const memberAlarms = alarms.filter(a => a.memberID === m.ID);
              return (
                <tr key={m.ID} data-member={m.name ?? ''}>
                  <td>
                    {m.name === undefined || m.name === '' ? <em>(not started)</em> : m.name}
                    {m.ID === thisMember ? <span class="muted"> (this console)</span> : null}
                  </td>
                  <td class="mono">{hexId(m.ID)}</td>
                  <td data-testid="role">
                    {m.ID === leader ? (
                      <span class="badge good">leader</span>
                    ) : m.isLearner === true ? (
                      <span class="badge">learner</span>
                    ) : (
                      <span class="badge">follower</span>
                    )}
                  </td>
                  {own?.ok === true ? (
                    <>
                      <td class="mono">{own.status.raftTerm ?? '0'}</td>
                      <td class="mono">{own.status.raftIndex ?? '0'}</td>
                      <td class="mono">{own.status.raftAppliedIndex ?? '0'}</td>
                      <td class="mono">{own.status.header?.revision ?? '0'}</td>
                      <td class="mono" title={`${formatBytes(own.status.dbSizeInUse)} in use`}>
                        {formatBytes(own.status.dbSize)}
                      </td>
                    </>
                  ) : (
                    <td colSpan={5} class="unreachable" data-testid="unreachable">
                      <span class="badge bad">unreachable</span>{' '}
                      <span class="muted">{messageOf(own?.error)}</span>
                    </td>
                  )}
                  <td>
                    {memberAlarms.length === 0 ? (
                      <span class="muted">none</span>
                    ) : (
                      memberAlarms.map(a => (
                        <span key={a.alarm} class="badge bad">
                          {a.alarm ?? 'NONE'}
                        </span>
                      ))
                    )}
                  </td>
                  <td class="mono">{(m.clientURLs ?? []).join(', ')}</td>
                  <td class="mono">{(m.peerURLs ?? []).join(', ')}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
        {status.errors !== undefined && status.errors.length > 0 ? (
          <div class="error">{status.errors.join('; ')}</div>
        ) : null}
      </section>
    </div>
  );
}

function messageOf(error: unknown): string {
  if (error instanceof Error) return error.message;
  return typeof error === 'string' ? error : '';
}

function nameOf(members: readonly Member[], id: string): string {
  const member = members.find(m => m.ID === id);
  const name = member?.name;
  return name === undefined || name === '' ? hexId(id) : `${name} (${hexId(id)})`;
}

function Card(props: {
  readonly label: string;
  readonly value: string;
  readonly detail?: string;
  readonly testId?: string;
}) {
  return (
    <div class="card" data-testid={props.testId}>
      <div class="card-label">{props.label}</div>
      <div class="card-value">{props.value}</div>
      {props.detail === undefined ? null : <div class="card-detail">{props.detail}</div>}
    </div>
  );
}
