import type {RequestListener} from 'node:http';

import {AlarmType} from '@synod/proto';

import type {MemberCore} from '../member/member.js';
import type {MemberMetrics} from '../metrics/member-metrics.js';
import {etcdApiVersion} from './maintenance-service.js';

/**
 * What etcd serves over plain HTTP on its client port: `/health` (200 with
 * `{"health":"true"}` when the member can serve, 503 otherwise), `/version`,
 * and `/metrics` in Prometheus' text format.
 */
export function httpHandler(member: MemberCore, metrics: MemberMetrics): RequestListener {
  return (req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, {allow: 'GET, HEAD'}).end();
      return;
    }
    if (path === '/health' || path === '/livez' || path === '/readyz') {
      const reasons: string[] = [];
      if (member.leader === 0) reasons.push('RAFT NO LEADER');
      if (member.fatalError !== undefined) reasons.push('MEMBER STOPPED');
      else if (!member.isPublished) reasons.push('MEMBER NOT YET PUBLISHED');
      for (const a of member.alarms.list())
        reasons.push(`ALARM ${a.alarm === AlarmType.NOSPACE ? 'NOSPACE' : 'CORRUPT'}`);
      const healthy = reasons.length === 0;
      res
        .writeHead(healthy ? 200 : 503, {'content-type': 'application/json'})
        .end(JSON.stringify({health: String(healthy), reason: reasons.join(', ')}));
      return;
    }
    if (path === '/metrics') {
      metrics.registry.metrics().then(
        text => {
          res.writeHead(200, {'content-type': metrics.registry.contentType}).end(text);
        },
        (error: unknown) => {
          res.writeHead(500, {'content-type': 'text/plain'}).end(String(error));
        },
      );
      return;
    }
    if (path === '/version') {
      res.writeHead(200, {'content-type': 'application/json'}).end(
        JSON.stringify({
          etcdserver: etcdApiVersion,
          etcdcluster: etcdApiVersion.replace(/\.\d+$/, '.0'),
        }),
      );
      return;
    }
    res.writeHead(404, {'content-type': 'text/plain'}).end('404 page not found\n');
  };
}
