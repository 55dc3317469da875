import {AlarmType} from '@synod/proto';
import {ServerError} from 'nice-grpc-common';

import type {HttpAnswer} from '../transport/http-answer.js';
import type {HealthCheckType} from './member-metrics.js';

/** What the health endpoints read of a member. */
export interface HealthSource {
  /** The leader's id, 0 when there is none. */
  readonly leader: number;
  /** The alarms raised in the cluster. */
  alarms(): readonly AlarmType[];
  /**
   * Whether the member serves clients yet: Synod listens before it has published its client
   * URLs through the log, etcd serves only after; until then a client sent here would not
   * find this member in the member list.
   */
  readonly isPublished: boolean;
  /** Resolves once a local read may be served; fails with etcd's error when it may not. */
  serializableRead(): Promise<void>;
  /** Resolves once a linearizable read may be served (a ReadIndex round); fails with etcd's error. */
  linearizableRead(): Promise<void>;
}

/** Where the endpoints report what they answered, as etcd's `etcd_server_health*` metrics. */
export interface HealthRecorder {
  healthAnswered(healthy: boolean): void;
  healthChecked(type: HealthCheckType, name: string, ok: boolean): void;
}

/** One named check of `/livez` or `/readyz`: resolves when it passes. */
type HealthCheck = (source: HealthSource) => Promise<void>;

const dataCorruption: HealthCheck = source =>
  source.alarms().includes(AlarmType.CORRUPT)
    ? Promise.reject(new Error('alarm activated: CORRUPT'))
    : Promise.resolve();
const serializableRead: HealthCheck = source => source.serializableRead();
const linearizableRead: HealthCheck = source => source.linearizableRead();

/**
 * etcd 3.5's checks, in the order etcd registers them (etcd lists them in map order, which
 * varies between requests). `/livez` asks whether the process should be restarted: a local
 * read works. `/readyz` whether it should get traffic: no corruption alarm, local and
 * linearizable reads work.
 */
const checkLists: Record<HealthCheckType, readonly (readonly [string, HealthCheck])[]> = {
  livez: [['serializable_read', serializableRead]],
  readyz: [
    ['data_corruption', dataCorruption],
    ['serializable_read', serializableRead],
    ['linearizable_read', linearizableRead],
  ],
};

/** What Go's `http.Error` sends: plain text, not sniffed, the message and a newline. */
function goError(
  status: number,
  message: string,
  headers: Record<string, string> = {},
): HttpAnswer {
  return {
    status,
    headers: {
      ...headers,
      'content-type': 'text/plain; charset=utf-8',
      'x-content-type-options': 'nosniff',
    },
    body: `${message}\n`,
  };
}

const methodNotAllowed = goError(405, 'Method Not Allowed', {allow: 'GET'});

/** The message of an error as etcd's `%v` prints it: a gRPC error by its description. */
function messageOf(error: unknown): string {
  if (error instanceof ServerError) return error.details;
  return error instanceof Error ? error.message : String(error);
}

/** Whether `path` is one of the health endpoints. */
export function isHealthPath(path: string): boolean {
  if (path === '/health') return true;
  const [, type, name, ...rest] = path.split('/');
  if (type !== 'livez' && type !== 'readyz') return false;
  if (name === undefined) return true;
  return rest.length === 0 && checkLists[type].some(([check]) => check === name);
}

/**
 * Answers etcd 3.5's health endpoints, on the client URLs and on `--listen-metrics-urls`:
 *
 * - `/health`: `{"health":"true","reason":""}`, or 503 with the first failure's reason: an
 *   alarm not named in `?exclude=` (`ALARM NOSPACE`, `ALARM CORRUPT`), `RAFT NO LEADER` (not
 *   asked with `?serializable=true`), or a failed read (`RANGE ERROR:<error>`), linearizable
 *   unless `?serializable=true`.
 * - `/livez`, `/readyz`: `ok`, or 503 with every check as `[+]name ok` / `[-]name failed:
 *   <error>`; `?verbose` lists the checks on success too, `?exclude=<check>` leaves one out,
 *   and `/livez/<check>`, `/readyz/<check>` run one.
 *
 * Only GET is allowed, as in etcd. The caller answers paths {@link isHealthPath} refuses.
 */
export async function answerHealth(
  source: HealthSource,
  recorder: HealthRecorder,
  method: string,
  path: string,
  query: URLSearchParams,
): Promise<HttpAnswer> {
  if (method !== 'GET') return methodNotAllowed;
  if (path === '/health') return health(source, recorder, query);
  const [, type, only] = path.split('/') as [string, HealthCheckType, string | undefined];
  const excluded = new Set(query.getAll('exclude'));
  const checks = checkLists[type].filter(([name]) =>
    only === undefined ? !excluded.has(name) : name === only,
  );
  let lines = '';
  let failed = false;
  for (const [name, check] of checks) {
    try {
      await check(source);
      lines += `[+]${name} ok\n`;
      recorder.healthChecked(type, name, true);
    } catch (error) {
      lines += `[-]${name} failed: ${messageOf(error)}\n`;
      recorder.healthChecked(type, name, false);
      failed = true;
    }
  }
  if (failed) return goError(503, lines);
  return {
    status: 200,
    headers: {'content-type': 'text/plain; charset=utf-8', 'x-content-type-options': 'nosniff'},
    body: `${query.has('verbose') ? lines : ''}ok\n`,
  };
}

async function health(
  source: HealthSource,
  recorder: HealthRecorder,
  query: URLSearchParams,
): Promise<HttpAnswer> {
  const excluded = new Set(query.getAll('exclude'));
  const serializable = query.get('serializable') === 'true';
  const reason = await unhealthyReason(source, excluded, serializable);
  recorder.healthAnswered(reason === undefined);
  const body = JSON.stringify({health: String(reason === undefined), reason: reason ?? ''});
  if (reason !== undefined) return goError(503, body);
  // etcd writes the JSON without a content type; Go's sniffing then calls it plain text.
  return {status: 200, headers: {'content-type': 'text/plain; charset=utf-8'}, body};
}

async function unhealthyReason(
  source: HealthSource,
  excluded: ReadonlySet<string>,
  serializable: boolean,
): Promise<string | undefined> {
  for (const alarm of source.alarms()) {
    const name = AlarmType[alarm];
    if (excluded.has(name)) continue;
    return alarm === AlarmType.NOSPACE || alarm === AlarmType.CORRUPT
      ? `ALARM ${name}`
      : 'ALARM UNKNOWN';
  }
  if (!serializable && source.leader === 0) return 'RAFT NO LEADER';
  try {
    if (serializable) await source.serializableRead();
    else await source.linearizableRead();
  } catch (error) {
    return `RANGE ERROR:${messageOf(error)}`;
  }
  if (!source.isPublished) return 'MEMBER NOT YET PUBLISHED';
  return undefined;
}
