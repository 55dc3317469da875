import {AlarmType} from '@synod/proto';

import type {MemberCore} from '../member/member.js';
import type {MemberMetrics} from '../metrics/member-metrics.js';
import {etcdApiVersion} from './maintenance-service.js';

/** One answer of the member's HTTP endpoints, whatever HTTP version carries it. */
export interface HttpAnswer {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

/** The member's HTTP endpoints: the answer to a method and a path (query left out). */
export type HttpEndpoints = (method: string, path: string) => HttpAnswer | Promise<HttpAnswer>;

const json = (status: number, value: unknown): HttpAnswer => ({
  status,
  headers: {'content-type': 'application/json'},
  body: JSON.stringify(value),
});

/**
 * What etcd serves over HTTP on its client port, beside gRPC: `/health` (200 with
 * `{"health":"true"}` when the member can serve, 503 otherwise), `/version`, and
 * `/metrics` in Prometheus' text format.
 */
export function httpEndpoints(member: MemberCore, metrics: MemberMetrics): HttpEndpoints {
  return (method, path) => {
    if (method !== 'GET' && method !== 'HEAD') {
      return {status: 405, headers: {allow: 'GET, HEAD'}, body: ''};
    }
    if (path === '/health' || path === '/livez' || path === '/readyz') {
      const reasons: string[] = [];
      if (member.leader === 0) reasons.push('RAFT NO LEADER');
      if (member.fatalError !== undefined) reasons.push('MEMBER STOPPED');
      else if (!member.isPublished) reasons.push('MEMBER NOT YET PUBLISHED');
      for (const a of member.alarms.list())
        reasons.push(`ALARM ${a.alarm === AlarmType.NOSPACE ? 'NOSPACE' : 'CORRUPT'}`);
      const healthy = reasons.length === 0;
      return json(healthy ? 200 : 503, {health: String(healthy), reason: reasons.join(', ')});
    }
    if (path === '/metrics') {
      return metrics.registry.metrics().then(
        text => ({
          status: 200,
          headers: {'content-type': metrics.registry.contentType},
          body: text,
        }),
        (error: unknown) => ({
          status: 500,
          headers: {'content-type': 'text/plain'},
          body: String(error),
        }),
      );
    }
    if (path === '/version') {
      return json(200, {
        etcdserver: etcdApiVersion,
        etcdcluster: etcdApiVersion.replace(/\.\d+$/, '.0'),
      });
    }
    return {
      status: 404,
      headers: {'content-type': 'text/plain; charset=utf-8', 'x-content-type-options': 'nosniff'},
      body: '404 page not found\n',
    };
  };
}
