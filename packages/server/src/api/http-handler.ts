import {EtcdErrors} from '@synod/proto';
import {ServerError} from 'nice-grpc-common';

import type {HealthSource} from '../metrics/health-endpoints.js';
import {answerHealth, isHealthPath} from '../metrics/health-endpoints.js';
import type {MemberMetrics} from '../metrics/member-metrics.js';
import type {HttpAnswer, HttpEndpoints} from '../transport/http-answer.js';
import {corsHeaders} from '../util/cors-headers.js';
import {etcdApiVersion} from './maintenance-service.js';
import type {HealthHost} from './member-ports.js';

export type {HttpAnswer, HttpEndpoints} from '../transport/http-answer.js';

const json = (status: number, value: unknown): HttpAnswer => ({
  status,
  headers: {'content-type': 'application/json'},
  body: JSON.stringify(value),
});

/** What the health endpoints read of a member. */
export function memberHealth(member: HealthHost): HealthSource {
  const stopped = () =>
    member.fatalError === undefined
      ? undefined
      : new ServerError(EtcdErrors.stopped.code, EtcdErrors.stopped.message);
  return {
    get leader() {
      return member.leader;
    },
    alarms: () => member.alarms.list().map(a => a.alarm),
    get isPublished() {
      return member.isPublished;
    },
    serializableRead: () => {
      const error = stopped();
      return error === undefined ? Promise.resolve() : Promise.reject(error);
    },
    linearizableRead: async () => {
      await member.linearizableRead();
    },
  };
}

/**
 * What etcd serves over HTTP on its client port, beside gRPC: `/health`, `/livez` and
 * `/readyz` (see {@link answerHealth}), `/version`, and `/metrics` in Prometheus' text format.
 * With `metricsOnly`, what etcd serves on `--listen-metrics-urls`: the metrics and the health
 * endpoints.
 */
export function httpEndpoints(
  member: HealthHost,
  metrics: MemberMetrics,
  {metricsOnly = false} = {},
): HttpEndpoints {
  const health = memberHealth(member);
  const answer = (method: string, path: string, query: URLSearchParams) => {
    if (isHealthPath(path)) return answerHealth(health, metrics, method, path, query);
    // As etcd's handlers: /metrics (Prometheus' handler) answers any method, /version only GET.
    if (path === '/metrics') {
      return metrics.scrape().then(
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
    if (path === '/version' && !metricsOnly) {
      if (method !== 'GET') return goMethodNotAllowed;
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
  if (metricsOnly)
    return (method, path, query = new URLSearchParams()) => answer(method, path, query);
  // The client port answers as etcd's CORS wrapper around its handlers does.
  return async (method, path, query = new URLSearchParams()) => {
    if (method === 'OPTIONS') return {status: 200, headers: {...corsHeaders}, body: ''};
    const answered = await answer(method, path, query);
    return {...answered, headers: {...corsHeaders, ...answered.headers}};
  };
}

/** Go's `http.Error(w, "Method Not Allowed", 405)` after etcd's `allowMethod(w, r, "GET")`. */
const goMethodNotAllowed: HttpAnswer = {
  status: 405,
  headers: {
    allow: 'GET',
    'content-type': 'text/plain; charset=utf-8',
    'x-content-type-options': 'nosniff',
  },
  body: 'Method Not Allowed\n',
};
