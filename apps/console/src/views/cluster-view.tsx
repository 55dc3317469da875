import type {AlarmMember, EtcdGateway, Member, StatusResponse} from '../etcd-gateway.js';
import {ErrorBox, formatBytes, hexId, usePoll} from '../ui.js';

interface ClusterState {
  readonly status: StatusResponse;
  readonly members: readonly Member[];
  readonly alarms: readonly AlarmMember[];
}

/** The members, who leads, raft's term and index, the backend's size and the raised alarms. */
export function ClusterView({gateway}: {readonly gateway: EtcdGateway}) {
  const {data, error} = usePoll<ClusterState>(
    async signal => {
      const [status, list, alarms] = await Promise.all([
        gateway.call<StatusResponse>('maintenance/status', {}, signal),
        gateway.call<{members?: Member[]}>('cluster/member/list', {linearizable: false}, signal),
        gateway.call<{alarms?: AlarmMember[]}>('maintenance/alarm', {action: 'GET'}, signal),
      ]);
      return {status, members: list.members ?? [], alarms: alarms.alarms ?? []};
    },
    2000,
    [gateway],
  );
  if (data === undefined) return error === undefined ? <p>Loading…</p> : <ErrorBox error={error} />;
  const {status, members, alarms} = data;
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
        <table data-testid="members">
          <thead>
            <tr>
              <th>Name</th>
              <th>ID</th>
              <th>Role</th>
              <th>Client URLs</th>
              <th>Peer URLs</th>
            </tr>
          </thead>
          <tbody>
            {members.map(m => (
              <tr key={m.ID}>
                <td>
                  {m.name === undefined || m.name === '' ? <em>(not started)</em> : m.name}
                  {m.ID === thisMember ? <span class="muted"> (this console)</span> : null}
                </td>
                <td class="mono">{hexId(m.ID)}</td>
                <td>
                  {m.ID === leader ? (
                    <span class="badge good">leader</span>
                  ) : m.isLearner === true ? (
                    <span class="badge">learner</span>
                  ) : (
                    <span class="badge">follower</span>
                  )}
                </td>
                <td class="mono">{(m.clientURLs ?? []).join(', ')}</td>
                <td class="mono">{(m.peerURLs ?? []).join(', ')}</td>
              </tr>
            ))}
          </tbody>
        </table>
        {status.errors !== undefined && status.errors.length > 0 ? (
          <div class="error">{status.errors.join('; ')}</div>
        ) : null}
      </section>
    </div>
  );
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
