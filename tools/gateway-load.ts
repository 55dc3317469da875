import http from 'node:http';

import {Histogram} from '@synod/bench';

/** What {@link runGatewayLoad} sends. */
export interface GatewayLoadOptions {
  /** `host:port` of the member's client port. */
  readonly address: string;
  /** `put` (`POST /v3/kv/put`) or a linearizable single-key `range` (`POST /v3/kv/range`). */
  readonly workload: 'put' | 'range';
  /** Requests in flight, each on its own keep-alive connection. */
  readonly clients: number;
  /** Keys `/gateway-bench/00000000` onwards; each request takes one at random. */
  readonly keyCount: number;
  readonly valueBytes: number;
  /** How long to send; without it, each key is sent once, in order, and the load ends. */
  readonly durationMs?: number;
  /** A request unanswered after this long is counted as an error. */
  readonly requestTimeoutMs?: number;
}

/** What a load measured: only answers that succeeded count as operations and as latency. */
export interface GatewayLoadResult {
  readonly ops: number;
  readonly elapsedMs: number;
  /** Latency of the successful operations. */
  readonly latency: Histogram;
  /** Failed requests by `HTTP <status>: <body>`, error code or kind of wrong answer. */
  readonly errors: ReadonlyMap<string, number>;
  /** CPU this process (the load generator) used during the load, in seconds. */
  readonly clientCpuSeconds: number;
}

interface Answer {
  readonly status: number;
  readonly body: string;
}

/**
 * Sends etcd's HTTP/JSON gateway requests from `clients` closed loops (each sends its next
 * request when the last is answered) over HTTP/1.1 keep-alive connections, as the requests a
 * `curl` or browser client makes. Bodies are built once per key before the clock starts, so
 * the client spends its CPU on HTTP, not on base64.
 *
 * An answer counts as an operation only when its status is 200 and, for a range, it holds
 * the key (`"kvs"`): a range of a key the put phase did not write is an error, as are other
 * statuses, connection errors and timeouts, each counted by kind.
 */
export async function runGatewayLoad(options: GatewayLoadOptions): Promise<GatewayLoadResult> {
  const [host, port] = splitAddress(options.address);
  const agent = new http.Agent({keepAlive: true, maxSockets: options.clients});
  const path = `/v3/kv/${options.workload}`;
  const bodies = requestBodies(options);
  const latency = new Histogram();
  const errors = new Map<string, number>();
  const timeoutMs = options.requestTimeoutMs ?? 10_000;
  let ops = 0;
  let nextKey = 0;

  const post = (body: Buffer): Promise<Answer> =>
    new Promise((resolve, reject) => {
      const request = http.request(
        {
          agent,
          host,
          port,
          method: 'POST',
          path,
          headers: {'content-type': 'application/json', 'content-length': body.length},
        },
        response => {
          const chunks: Buffer[] = [];
          response.on('data', (chunk: Buffer) => chunks.push(chunk));
          response.on('end', () => {
            resolve({status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString()});
          });
          response.on('error', reject);
        },
      );
      request.setTimeout(timeoutMs, () => {
        request.destroy(new Error(`no answer in ${timeoutMs} ms`));
      });
      request.on('error', reject);
      request.end(body);
    });

  const failure = (answer: Answer): string | undefined => {
    if (answer.status !== 200) return `HTTP ${answer.status}: ${answer.body.slice(0, 200)}`;
    if (options.workload === 'range' && !answer.body.includes('"kvs":')) {
      return 'HTTP 200 without the key: the range found nothing';
    }
    return undefined;
  };
  const count = (kind: string): void => {
    errors.set(kind, (errors.get(kind) ?? 0) + 1);
  };

  const cpuBefore = process.cpuUsage();
  const startMs = performance.now();
  const deadlineMs = options.durationMs === undefined ? undefined : startMs + options.durationMs;
  const takeKey = (): number | undefined => {
    if (deadlineMs === undefined) return nextKey < bodies.length ? nextKey++ : undefined;
    if (performance.now() >= deadlineMs) return undefined;
    return Math.floor(Math.random() * bodies.length);
  };
  try {
    await Promise.all(
      Array.from({length: options.clients}, async () => {
        for (let key = takeKey(); key !== undefined; key = takeKey()) {
          const sentNs = process.hrtime.bigint();
          try {
            const answer = await post(bodies[key]!);
            const wrong = failure(answer);
            if (wrong === undefined) {
              latency.recordSince(sentNs);
              ops++;
            } else {
              count(wrong);
            }
          } catch (error) {
            const code = (error as NodeJS.ErrnoException).code;
            count(code ?? (error instanceof Error ? error.message : String(error)));
          }
        }
      }),
    );
  } finally {
    agent.destroy();
  }
  const elapsedMs = performance.now() - startMs;
  const cpu = process.cpuUsage(cpuBefore);
  return {ops, elapsedMs, latency, errors, clientCpuSeconds: (cpu.user + cpu.system) / 1e6};
}

function splitAddress(address: string): [string, number] {
  const colon = address.lastIndexOf(':');
  return [address.slice(0, colon), Number(address.slice(colon + 1))];
}

/** The JSON body of each key's request: base64 key, and for a put a base64 value. */
function requestBodies(options: GatewayLoadOptions): Buffer[] {
  const value = Buffer.alloc(options.valueBytes, 'v').toString('base64');
  return Array.from({length: options.keyCount}, (_, i) => {
    const key = Buffer.from(`/gateway-bench/${String(i).padStart(8, '0')}`).toString('base64');
    const json = options.workload === 'put' ? {key, value} : {key};
    return Buffer.from(JSON.stringify(json));
  });
}
