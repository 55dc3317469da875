import {createHash} from 'node:crypto';
import http2 from 'node:http2';
import net from 'node:net';

import {rawGrpcCall} from '@synod/testing';
import {afterEach, describe, expect, it} from 'vitest';

import {AuthorityRewriter} from './authority-rewriter.js';

interface RewritingServer {
  readonly url: string;
  /** The headers of every request the server saw, in order. */
  readonly requests: http2.IncomingHttpHeaders[];
  /** The rewriter of every connection so far. */
  readonly rewriters: AuthorityRewriter[];
  close(): Promise<void>;
}

const servers: RewritingServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map(s => s.close()));
});

/**
 * A Node HTTP/2 server that reads every connection through an AuthorityRewriter. It answers
 * every request with the headers it received as JSON, or echoes a POST body.
 */
async function startRewritingServer(settings: http2.Settings = {}): Promise<RewritingServer> {
  const h2 = http2.createServer({settings});
  const requests: http2.IncomingHttpHeaders[] = [];
  h2.on('stream', (stream, headers) => {
    requests.push(headers);
    if (headers[':method'] === 'POST') {
      stream.respond({':status': 200});
      stream.pipe(stream);
      return;
    }
    stream.respond({':status': 200, 'content-type': 'application/json'});
    stream.end(JSON.stringify(headers));
  });
  const rewriters: AuthorityRewriter[] = [];
  const tcp = net.createServer({pauseOnConnect: true, noDelay: true}, socket => {
    const rewriter = new AuthorityRewriter(socket, Buffer.alloc(0));
    rewriters.push(rewriter);
    h2.emit('connection', rewriter);
  });
  await new Promise<void>(resolve => tcp.listen(0, '127.0.0.1', resolve));
  const server: RewritingServer = {
    url: `http://127.0.0.1:${(tcp.address() as net.AddressInfo).port}`,
    requests,
    rewriters,
    async close() {
      for (const rewriter of rewriters) rewriter.destroy();
      await new Promise(resolve => tcp.close(resolve));
      h2.close();
    },
  };
  servers.push(server);
  return server;
}

/** Makes a GET and returns the headers the server saw. */
async function headersSeen(
  session: http2.ClientHttp2Session,
  headers: http2.OutgoingHttpHeaders,
): Promise<Record<string, string>> {
  const stream = session.request({':path': '/', ...headers}, {endStream: true});
  let body = '';
  stream.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
  await new Promise<void>((resolve, reject) => {
    stream.on('end', resolve);
    stream.on('error', reject);
  });
  return JSON.parse(body) as Record<string, string>;
}

function connect(url: string, options: http2.ClientSessionOptions = {}) {
  const session = http2.connect(url, options);
  session.on('error', () => undefined);
  return session;
}

describe('a connection read through an AuthorityRewriter', () => {
  it('serves requests whose :authority is a URL or empty, while the HPACK table churns', async () => {
    const server = await startRewritingServer();
    const session = connect(server.url);
    try {
      // Values of varied lengths keep the dynamic table evicting; the empty :authority is
      // indexed as 42 bytes by the client and 43 by the server.
      for (let i = 0; i < 300; i++) {
        const authority =
          i % 50 === 25 ? '' : i % 3 === 0 ? 'http://127.0.0.1:2379' : 'localhost:2379';
        const seen = await headersSeen(session, {
          ':authority': authority,
          'x-seq': `${i}-${'v'.repeat((i * 37) % 300)}`,
          'x-secret': `s${i % 7}`,
          [http2.sensitiveHeaders]: ['x-secret'],
        });
        expect(seen[':authority']).toBe(
          authority === ''
            ? '_'
            : authority === 'localhost:2379'
              ? authority
              : 'http:__127.0.0.1:2379',
        );
        expect(seen['x-seq']).toBe(`${i}-${'v'.repeat((i * 37) % 300)}`);
        expect(seen['x-secret']).toBe(`s${i % 7}`);
      }
    } finally {
      session.close();
    }
  });

  it('serves paths without their slash and refused schemes, while the HPACK table churns', async () => {
    // A 200-byte table holds a few entries at a time, so evictions are frequent.
    const server = await startRewritingServer({headerTableSize: 200});
    const session = connect(server.url);
    try {
      // nghttp2's client indexes :scheme, not :path. The schemes, refused and 1 to 3 octets
      // long, are indexed as the client sent them and as the longer `http` by the server,
      // which so evicts entries before the client does.
      for (let i = 0; i < 300; i++) {
        const seq = `${i}-${'v'.repeat((i * 37) % 90)}`;
        const seen = await headersSeen(session, {
          ':path': i % 2 === 0 ? `svc.S/M${i}` : `/svc.S/M${i}`,
          ':scheme': `_${'s'.repeat(i % 3)}`,
          'x-seq': seq,
        });
        expect(seen[':path']).toBe(`/svc.S/M${i}`);
        expect(seen[':scheme']).toBe('http');
        expect(seen['x-seq']).toBe(seq);
      }
    } finally {
      session.close();
    }
  });

  it('adds the :scheme and :authority a request lacks', async () => {
    const server = await startRewritingServer();
    const address = server.url.replace('http://', '');
    const result = await rawGrpcCall(address, '/a', Buffer.alloc(0), {
      headers: {':scheme': null, ':authority': null},
    });
    expect(result.httpStatus).toBe(200);
    expect(server.requests[0]).toMatchObject({':scheme': 'http', ':authority': '_', ':path': '/a'});
  });

  it('splits a rewritten block past 16 KiB into CONTINUATION frames, and drops padding', async () => {
    const server = await startRewritingServer();
    const session = connect(server.url, {paddingStrategy: http2.constants.PADDING_STRATEGY_MAX});
    try {
      const big = 'b'.repeat(40_000);
      const seen = await headersSeen(session, {':authority': 'https://a/b', 'x-big': big});
      expect(seen[':authority']).toBe('https:__a_b');
      expect(seen['x-big']).toBe(big);
      const again = await headersSeen(session, {':authority': 'https://a/b'});
      expect(again[':authority']).toBe('https:__a_b');
    } finally {
      session.close();
    }
  });

  it('carries a large body both ways, holding back the side that is ahead', async () => {
    const server = await startRewritingServer();
    const session = connect(server.url);
    try {
      const body = Buffer.alloc(8 * 1024 * 1024);
      for (let i = 0; i < body.length; i += 4) body.writeUInt32LE(i, i);
      const stream = session.request({':method': 'POST', ':path': '/', ':authority': 'http://x/'});
      const received = createHash('sha256');
      let length = 0;
      stream.on('data', (chunk: Buffer) => {
        received.update(chunk);
        length += chunk.length;
      });
      const ended = new Promise<void>((resolve, reject) => {
        stream.on('end', resolve);
        stream.on('error', reject);
      });
      stream.end(body);
      await ended;
      expect(length).toBe(body.length);
      expect(received.digest('hex')).toBe(createHash('sha256').update(body).digest('hex'));
    } finally {
      session.close();
    }
  });

  it('shows the client’s address, and ends with the connection, either side first', async () => {
    const server = await startRewritingServer();
    const first = connect(server.url);
    await headersSeen(first, {':authority': 'http://x/'});
    const [rewriter] = server.rewriters;
    expect(rewriter?.remoteAddress).toBe('127.0.0.1');
    expect(rewriter?.remotePort).toBe(first.socket.localPort);
    const rewriterClosed = new Promise(resolve => rewriter?.once('close', resolve));
    first.close();
    await rewriterClosed;
    expect(rewriter?.socket.destroyed).toBe(true);

    const second = connect(server.url);
    await headersSeen(second, {':authority': 'http://x/'});
    const clientClosed = new Promise(resolve => second.once('close', resolve));
    server.rewriters[1]?.destroy();
    await clientClosed;
  });
});
