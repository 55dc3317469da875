import {readFileSync} from 'node:fs';
import http from 'node:http';
import type http2 from 'node:http2';
import https from 'node:https';

import {expect} from 'vitest';

import type {Pair, Side} from './harness.js';
import {recordDifference} from './harness.js';

/**
 * Differential testing of the HTTP/JSON gateway: the same HTTP request to etcd's gateway and
 * to Synod's, and the answers must be equal once per-server values are normalised.
 *
 * What is normalised, and why:
 * - `header.cluster_id`, `header.member_id`, `header.raft_term`: random ids and election luck,
 *   as in the gRPC harness. `header.revision` is kept.
 * - ids: every value of a field named `ID`, `lease`, `memberID`, `leader` or `member_id`
 *   (lease and member ids, which each server picks) becomes `id#n`, n counting the ids that
 *   side reported in first-seen order.
 * - remaining lease TTLs: a positive `TTL` within 2 s below `grantedTTL` becomes `~granted`.
 * - `leases` and `keys` lists are sorted (etcd answers them in hash-map order).
 * - response headers: only `content-type`, the `grpc-metadata-*` ones and `trailer` are
 *   compared; `date`, `connection` and `keep-alive` are the HTTP server's own.
 * Everything else is compared as is: HTTP status, error bodies and messages, field names and
 * their order (the JSON text is parsed, but key order is kept by the comparison of entries).
 */

/** An HTTP answer in comparable form. */
export interface HttpOutcome {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  /** Parsed JSON with keys in order (as entry lists), or the text when it is not JSON. */
  readonly body: unknown;
}

const comparedHeaders = [
  'content-type',
  'trailer',
  'allow',
  'x-content-type-options',
  'access-control-allow-headers',
  'access-control-allow-methods',
  'access-control-allow-origin',
];

/** Options of one request. */
export interface HttpRequestOptions {
  readonly method?: string;
  readonly headers?: Readonly<Record<string, string>>;
}

/** Sends one request to a side's client port and reads the whole answer. */
export function request(
  side: Side,
  path: string,
  body: string | Buffer | undefined,
  options: HttpRequestOptions = {},
): Promise<{status: number; headers: http.IncomingHttpHeaders; text: string}> {
  const [host, port] = side.address.split(':');
  const files = tlsFilesOf(side);
  const request = files === undefined ? http.request : https.request;
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host,
        port: Number(port),
        path,
        method: options.method ?? 'POST',
        headers: {...options.headers},
        agent: false,
        ...(files === undefined
          ? {}
          : {
              ca: readFileSync(files.ca),
              cert: readFileSync(files.cert),
              key: readFileSync(files.key),
            }),
      },
      res => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          resolve({
            status: res.statusCode ?? 0,
            headers: {...res.headers, ...res.trailers},
            text: Buffer.concat(chunks).toString('utf8'),
          });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** The TLS files a side's clients use (from its etcdctl flags), or undefined in plaintext. */
export function tlsFilesOf(side: Side): {ca: string; cert: string; key: string} | undefined {
  const flag = (name: string) =>
    side.ctlFlags.find(f => f.startsWith(`--${name}=`))?.slice(name.length + 3);
  const [ca, cert, key] = [flag('cacert'), flag('cert'), flag('key')];
  return ca === undefined || cert === undefined || key === undefined ? undefined : {ca, cert, key};
}

/** Per-side normalisation state: ids in first-seen order. */
const idNames = new WeakMap<Side, string[]>();

function idName(side: Side, id: string): string {
  const ids = idNames.get(side) ?? [];
  idNames.set(side, ids);
  let n = ids.indexOf(id);
  if (n < 0) {
    ids.push(id);
    n = ids.length - 1;
  }
  return `id#${n}`;
}

/** The id a side reported n-th (0-based), as the JSON string it used. */
export function reportedId(side: Side, n: number): string {
  const id = idNames.get(side)?.[n];
  if (id === undefined) throw new Error(`${side.name} has reported no id #${n} yet`);
  return id;
}

const idFields = new Set(['ID', 'lease', 'memberID', 'leader', 'member_id']);

/** Turns parsed JSON into comparable data, per the rules above. */
export function normaliseJson(side: Side, value: unknown, key = ''): unknown {
  if (Array.isArray(value)) {
    const items = value.map(item => normaliseJson(side, item, key));
    if (key === 'leases' || key === 'keys') {
      items.sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
    }
    return items;
  }
  if (value !== null && typeof value === 'object') {
    const entries: [string, unknown][] = [];
    for (const [k, v] of Object.entries(value)) {
      if (key === 'header' && (k === 'cluster_id' || k === 'member_id' || k === 'raft_term')) {
        continue;
      }
      entries.push([k, normaliseJson(side, v, k)]);
    }
    const ttl = Number(entries.find(([k]) => k === 'TTL')?.[1] ?? 0);
    const granted = Number(entries.find(([k]) => k === 'grantedTTL')?.[1] ?? 0);
    return entries.map(([k, v]) =>
      k === 'TTL' && granted > 0 && ttl > 0 && ttl <= granted && ttl >= granted - 2
        ? [k, `~${granted}`]
        : [k, v],
    );
  }
  if (idFields.has(key) && (typeof value === 'string' || typeof value === 'number')) {
    return String(value) === '0' ? value : idName(side, String(value));
  }
  return value;
}

/** Parses a body: JSON (one value, or one per line for a stream), else the text. */
export function parseBody(side: Side, text: string): unknown {
  const lines = text.split('\n').filter(line => line.trim() !== '');
  try {
    const values = lines.map(line => normaliseJson(side, JSON.parse(line)));
    return lines.length === 1 ? values[0] : values;
  } catch {
    return text;
  }
}

/** Sends a request to one side and returns the answer in comparable form. */
export async function httpOutcome(
  side: Side,
  path: string,
  body: string | Buffer | undefined,
  options: HttpRequestOptions = {},
): Promise<HttpOutcome> {
  const answer = await request(side, path, body, options);
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(answer.headers)) {
    if (value === undefined) continue;
    if (comparedHeaders.includes(name) || name.startsWith('grpc-')) {
      headers[name] = String(value).toLowerCase();
    }
  }
  return {status: answer.status, headers, body: parseBody(side, answer.text)};
}

/**
 * Sends the same request to both sides and expects equal answers; returns etcd's. `body` may
 * be a function of the side, for requests that carry ids the side reported earlier.
 */
export async function sameHttp(
  pair: Pair,
  path: string,
  body: string | Buffer | undefined | ((side: Side) => string),
  options: HttpRequestOptions | ((side: Side) => HttpRequestOptions) = {},
): Promise<HttpOutcome> {
  const [e, s] = await Promise.all(
    pair.sides.map(side =>
      httpOutcome(
        side,
        path,
        typeof body === 'function' ? body(side) : body,
        typeof options === 'function' ? options(side) : options,
      ),
    ),
  );
  const label = `${path} ${typeof body === 'function' ? body(pair.etcd) : String(body)}`;
  if (process.env.SYNOD_DIFF_TRACE !== undefined) console.log(label, JSON.stringify(e));
  if (!recordDifference(label, e, s)) {
    expect(s, `synod differs from etcd at ${label.slice(0, 300)}`).toEqual(e);
  }
  return e as HttpOutcome;
}

/** Base64 of a UTF-8 string, as the gateway carries keys and values. */
export function b64(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64');
}

/** Authenticates on one side and returns the token. */
export async function tokenOf(side: Side, name: string, password: string): Promise<string> {
  const answer = await request(side, '/v3/auth/authenticate', JSON.stringify({name, password}));
  return (JSON.parse(answer.text) as {token: string}).token;
}

/** One POST over an HTTP/2 session, read whole. */
export function http2Post(
  session: http2.ClientHttp2Session,
  path: string,
  body: string,
): Promise<{status: number; text: string}> {
  return new Promise((resolve, reject) => {
    const stream = session.request({':method': 'POST', ':path': path});
    let status = 0;
    let text = '';
    stream.on('response', headers => {
      status = Number(headers[':status']);
    });
    stream.on('data', (chunk: Buffer) => {
      text += chunk.toString();
    });
    stream.on('end', () => {
      resolve({status, text});
    });
    stream.on('error', reject);
    stream.end(body);
  });
}
