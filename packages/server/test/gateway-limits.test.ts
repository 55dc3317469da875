import {execFileSync} from 'node:child_process';
import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';

import {startSynod} from '@synod/testing';
import type {EtcdCluster} from '@synod/testing';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';

import {http2Post} from './differential/gateway-harness.js';

/**
 * The HTTP/JSON gateway under abuse, on one real member: what no client should send, or send
 * that much of, gets a clear 4xx and leaves the member serving.
 */

const b64 = (text: string) => Buffer.from(text, 'utf8').toString('base64');

/** How many files this process (and the member it starts) may open: `ulimit -n`. */
const openFileLimit = Number(execFileSync('sh', ['-c', 'ulimit -n']).toString().trim());
const watchConnections = 10_000;

describe('the HTTP/JSON gateway under bad and heavy input', () => {
  let cluster: EtcdCluster;
  let host: string;
  let port: number;

  beforeAll(async () => {
    cluster = await startSynod();
    const [h, p] = (cluster.members[0]?.clientAddress ?? '').split(':');
    host = h ?? '';
    port = Number(p);
  }, 60_000);

  afterAll(async () => {
    await cluster.stop();
  });

  const post = async (path: string, body: string) => {
    const send = () => fetch(`http://${host}:${port}${path}`, {method: 'POST', body});
    // fetch reuses a pooled keep-alive connection; one reset while it sat idle (as happened
    // once right after the 10,000 watch connections closed) says nothing about the member, so
    // the request goes once more, on a new connection.
    const res = await send().catch((error: unknown) => {
      const code = (error as {cause?: {code?: string}}).cause?.code;
      if (code !== 'ECONNRESET') throw error;
      return send();
    });
    return {status: res.status, body: await res.text()};
  };

  /** The member still answers a put and a range. */
  const expectServing = async () => {
    expect(
      (await post('/v3/kv/put', JSON.stringify({key: b64('alive'), value: b64('1')}))).status,
    ).toBe(200);
    const range = await post('/v3/kv/range', JSON.stringify({key: b64('alive')}));
    expect(range.status).toBe(200);
    expect(range.body).toContain(b64('alive'));
  };

  it('refuses a 100 MB body unread with 429, and keeps serving', async () => {
    const body = JSON.stringify({
      key: b64('big'),
      value: Buffer.alloc(75_000_000, 7).toString('base64'),
    });
    expect(body.length).toBeGreaterThan(100_000_000);
    const answer = await new Promise<{status: number; text: string}>((resolve, reject) => {
      const req = http.request({host, port, path: '/v3/kv/put', method: 'POST'}, res => {
        let text = '';
        res.on('data', (chunk: Buffer) => {
          text += chunk.toString();
        });
        res.on('end', () => {
          resolve({status: res.statusCode ?? 0, text});
        });
      });
      // The member answers before the body ends and closes; what it did not read is dropped.
      req.on('error', error => {
        if ((error as NodeJS.ErrnoException).code !== 'EPIPE') reject(error);
      });
      req.end(body);
    });
    expect(answer.status).toBe(429);
    expect(JSON.parse(answer.text)).toEqual({
      error: 'http: request body too large',
      message: 'http: request body too large',
      code: 8,
    });
    await expectServing();
  }, 60_000);

  it('answers a never-ending chunked body with 429 once it passes the limit', async () => {
    const answer = await new Promise<{status: number; text: string}>((resolve, reject) => {
      const req = http.request(
        {host, port, path: '/v3/kv/put', method: 'POST', headers: {'transfer-encoding': 'chunked'}},
        res => {
          let text = '';
          res.on('data', (chunk: Buffer) => {
            text += chunk.toString();
          });
          res.on('end', () => {
            clearInterval(feeder);
            req.destroy();
            resolve({status: res.statusCode ?? 0, text});
          });
        },
      );
      req.on('error', error => {
        if ((error as NodeJS.ErrnoException).code !== 'EPIPE') reject(error);
      });
      req.write('{"key":"YQ==","value":"');
      const chunk = 'A'.repeat(256 * 1024);
      const feeder = setInterval(() => {
        if (!req.destroyed) req.write(chunk);
      }, 1);
    });
    expect(answer.status).toBe(429);
    expect(answer.text).toContain('http: request body too large');
    await expectServing();
  }, 60_000);

  it('counts its calls in the gRPC metrics, as etcd does', async () => {
    const handled = async () => {
      const text = await (await fetch(`http://${host}:${port}/metrics`)).text();
      const line = text
        .split('\n')
        .find(
          l =>
            l.startsWith('grpc_server_handled_total{') &&
            l.includes('grpc_method="Put"') &&
            l.includes('grpc_code="OK"'),
        );
      return Number(line?.split(' ').at(-1) ?? 0);
    };
    const before = await handled();
    await post('/v3/kv/put', JSON.stringify({key: b64('counted'), value: b64('1')}));
    expect(await handled()).toBe(before + 1);
  });

  it('refuses invalid base64 and out-of-range integers with 400', async () => {
    expect(await post('/v3/kv/put', '{"key":"!!!!","value":"YQ=="}')).toEqual({
      status: 400,
      body: '{"error":"illegal base64 data at input byte 0","message":"illegal base64 data at input byte 0","code":3}',
    });
    const tooBig = await post('/v3/lease/grant', '{"TTL":"9223372036854775808"}');
    expect(tooBig.status).toBe(400);
    expect(JSON.parse(tooBig.body)).toMatchObject({
      error: 'json: cannot unmarshal number 9223372036854775808 into Go value of type int64',
    });
    await expectServing();
  });

  it('serves the gateway over HTTP/2 too, a watch included', async () => {
    const session = http2.connect(`http://${host}:${port}`);
    try {
      const call = (path: string, body: string) => http2Post(session, path, body);
      expect(
        (await call('/v3/kv/put', JSON.stringify({key: b64('h2'), value: b64('two')}))).status,
      ).toBe(200);
      const range = await call('/v3/kv/range', JSON.stringify({key: b64('h2')}));
      expect(range.status).toBe(200);
      expect(JSON.parse(range.text)).toMatchObject({kvs: [{key: b64('h2'), value: b64('two')}]});
      const watch = session.request({':method': 'POST', ':path': '/v3/watch'});
      watch.write(JSON.stringify({create_request: {key: b64('h2')}}));
      const lines: unknown[] = [];
      const twoLines = new Promise<void>(resolve => {
        let text = '';
        watch.on('data', (chunk: Buffer) => {
          text += chunk.toString();
          const complete = text.split('\n').filter(line => line !== '');
          if (text.endsWith('\n') && complete.length >= 2) {
            lines.push(...complete.map(line => JSON.parse(line) as unknown));
            resolve();
          }
        });
      });
      await new Promise(resolve => setTimeout(resolve, 100));
      await call('/v3/kv/put', JSON.stringify({key: b64('h2'), value: b64('three')}));
      await twoLines;
      watch.close();
      expect(lines[0]).toMatchObject({result: {created: true}});
      expect(lines[1]).toMatchObject({
        result: {events: [{kv: {key: b64('h2'), value: b64('three')}}]},
      });
    } finally {
      session.close();
    }
  });

  // Each end needs a file per connection; CI raises the limit (`ulimit -n 65536`).
  it.skipIf(openFileLimit < watchConnections + 500)(
    `holds ${watchConnections} open watch connections from one client, then lets them all go`,
    async () => {
      const count = watchConnections;
      const sockets: net.Socket[] = [];
      const created = {n: 0};
      try {
        const request = `POST /v3/watch HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n`;
        const body = JSON.stringify({create_request: {key: b64('many')}});
        const chunk = `${Buffer.byteLength(body).toString(16)}\r\n${body}\r\n`;
        for (let i = 0; i < count; i += 500) {
          await Promise.all(
            Array.from(
              {length: Math.min(500, count - i)},
              () =>
                new Promise<void>((resolve, reject) => {
                  const socket = net.connect({host, port}, () => {
                    socket.write(request + chunk);
                  });
                  sockets.push(socket);
                  let seen = '';
                  const onData = (data: Buffer) => {
                    seen += data.toString();
                    if (seen.includes('"created":true')) {
                      created.n++;
                      socket.off('data', onData);
                      resolve();
                    }
                  };
                  socket.on('data', onData);
                  socket.on('error', reject);
                }),
            ),
          );
        }
        expect(created.n).toBe(count);
        await expectServing();
      } finally {
        for (const socket of sockets) socket.destroy();
      }
      // Every watch ends with its connection: a put now reaches no one, and the member serves.
      await new Promise(resolve => setTimeout(resolve, 500));
      await expectServing();
    },
    120_000,
  );
});
