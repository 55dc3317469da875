import {AlarmType, EtcdErrors} from '@synod/proto';
import {ServerError} from 'nice-grpc-common';
import {describe, expect, it} from 'vitest';

import type {HealthRecorder, HealthSource} from './health-endpoints.js';
import {answerHealth, isHealthPath} from './health-endpoints.js';

/** A member as the health endpoints see it, healthy unless told otherwise. */
function member(overrides: Partial<HealthSource> = {}): HealthSource {
  return {
    leader: 1,
    alarms: () => [],
    isPublished: true,
    serializableRead: () => Promise.resolve(),
    linearizableRead: () => Promise.resolve(),
    ...overrides,
  };
}

function recorder(): HealthRecorder & {answers: boolean[]; checks: string[]} {
  const answers: boolean[] = [];
  const checks: string[] = [];
  return {
    answers,
    checks,
    healthAnswered: healthy => answers.push(healthy),
    healthChecked: (type, name, ok) => checks.push(`${type}/${name}=${String(ok)}`),
  };
}

const timedOut = () =>
  Promise.reject(new ServerError(EtcdErrors.timeout.code, EtcdErrors.timeout.message));

async function get(source: HealthSource, target: string, method = 'GET') {
  const url = new URL(target, 'http://member.invalid');
  return answerHealth(source, recorder(), method, url.pathname, url.searchParams);
}

describe('/health, as etcd 3.5 answers it', () => {
  it('is {"health":"true","reason":""} in plain text when the member can serve', async () => {
    const answer = await get(member(), '/health');
    expect(answer).toEqual({
      status: 200,
      headers: {'content-type': 'text/plain; charset=utf-8'},
      body: '{"health":"true","reason":""}',
    });
  });

  it('names the first alarm, unless ?exclude= names it', async () => {
    const full = member({alarms: () => [AlarmType.NOSPACE]});
    const answer = await get(full, '/health');
    expect(answer.status).toBe(503);
    expect(answer.body).toBe('{"health":"false","reason":"ALARM NOSPACE"}\n');
    expect(answer.headers['x-content-type-options']).toBe('nosniff');
    expect((await get(full, '/health?exclude=NOSPACE')).status).toBe(200);
    const corrupt = member({alarms: () => [AlarmType.NOSPACE, AlarmType.CORRUPT]});
    expect((await get(corrupt, '/health?exclude=NOSPACE')).body).toContain('ALARM CORRUPT');
  });

  it('fails without a leader, unless ?serializable=true asks only for a local read', async () => {
    const alone = member({leader: 0, linearizableRead: timedOut});
    expect((await get(alone, '/health')).body).toBe(
      '{"health":"false","reason":"RAFT NO LEADER"}\n',
    );
    expect((await get(alone, '/health?serializable=true')).status).toBe(200);
  });

  it('reports a failed read as RANGE ERROR with etcd’s message', async () => {
    const answer = await get(member({linearizableRead: timedOut}), '/health');
    expect(answer.body).toBe(
      '{"health":"false","reason":"RANGE ERROR:etcdserver: request timed out"}\n',
    );
  });

  it('counts what it answered, as etcd_server_health_success and _failures', async () => {
    const counts = recorder();
    await answerHealth(member(), counts, 'GET', '/health', new URLSearchParams());
    await answerHealth(member({leader: 0}), counts, 'GET', '/health', new URLSearchParams());
    expect(counts.answers).toEqual([true, false]);
  });

  it('takes only GET, as etcd', async () => {
    const answer = await get(member(), '/health', 'POST');
    expect(answer.status).toBe(405);
    expect(answer.headers.allow).toBe('GET');
    expect(answer.body).toBe('Method Not Allowed\n');
  });
});

describe('/livez and /readyz, as etcd 3.5 answers them', () => {
  it('say ok, and list their checks with ?verbose', async () => {
    expect((await get(member(), '/livez')).body).toBe('ok\n');
    expect((await get(member(), '/livez?verbose')).body).toBe('[+]serializable_read ok\nok\n');
    expect((await get(member(), '/readyz?verbose')).body).toBe(
      '[+]data_corruption ok\n[+]serializable_read ok\n[+]linearizable_read ok\nok\n',
    );
  });

  it('list every check with the failure on a 503, verbose or not', async () => {
    const answer = await get(member({linearizableRead: timedOut}), '/readyz');
    expect(answer.status).toBe(503);
    expect(answer.body).toBe(
      '[+]data_corruption ok\n[+]serializable_read ok\n' +
        '[-]linearizable_read failed: etcdserver: request timed out\n\n',
    );
    expect(answer.headers['content-type']).toBe('text/plain; charset=utf-8');
  });

  it('fail readyz on a CORRUPT alarm but not livez: a restart would not mend it', async () => {
    const corrupt = member({alarms: () => [AlarmType.CORRUPT]});
    expect((await get(corrupt, '/readyz')).body).toContain(
      '[-]data_corruption failed: alarm activated: CORRUPT\n',
    );
    expect((await get(corrupt, '/livez')).status).toBe(200);
  });

  it('leave out a check named in ?exclude=, and run one alone at its own path', async () => {
    const noQuorum = member({leader: 0, linearizableRead: timedOut});
    const answer = await get(noQuorum, '/readyz?exclude=linearizable_read&verbose');
    expect(answer.body).toBe('[+]data_corruption ok\n[+]serializable_read ok\nok\n');
    expect((await get(noQuorum, '/readyz/serializable_read')).status).toBe(200);
    expect((await get(noQuorum, '/readyz/linearizable_read')).status).toBe(503);
  });

  it('record each check as etcd_server_healthcheck{type,name}', async () => {
    const checks = recorder();
    await answerHealth(member(), checks, 'GET', '/readyz', new URLSearchParams());
    expect(checks.checks).toEqual([
      'readyz/data_corruption=true',
      'readyz/serializable_read=true',
      'readyz/linearizable_read=true',
    ]);
  });

  it('own only their paths', () => {
    expect(isHealthPath('/livez')).toBe(true);
    expect(isHealthPath('/readyz/linearizable_read')).toBe(true);
    expect(isHealthPath('/readyz/nope')).toBe(false);
    expect(isHealthPath('/livez/serializable_read/x')).toBe(false);
    expect(isHealthPath('/healthz')).toBe(false);
  });
});
