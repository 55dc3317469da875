import http2 from 'node:http2';

import {HealthCheckResponse_ServingStatus, HealthDefinition} from '@synod/proto';
import {createChannel, createClient, ServerError, Status} from 'nice-grpc';
import {afterEach, describe, expect, it} from 'vitest';

import {Gateway} from '../gateway/gateway.js';
import {ClientListener} from './client-listener.js';
import {GrpcServer} from './grpc-server.js';
import type {MethodTable} from './grpc-service.js';
import {addServiceMethods} from './grpc-service.js';

const listeners: ClientListener[] = [];
afterEach(async () => {
  await Promise.all(listeners.splice(0).map(l => l.close()));
});

async function startListener(): Promise<{url: string; errors: unknown[]}> {
  const errors: unknown[] = [];
  const methods: MethodTable = new Map();
  addServiceMethods(methods, HealthDefinition, {
    check(request, context) {
      if (request.service === 'peer') {
        return Promise.reject(new ServerError(Status.NOT_FOUND, context.peer));
      }
      if (request.service === 'unknown') {
        return Promise.reject(new ServerError(Status.NOT_FOUND, 'unknown service'));
      }
      if (request.service === 'crash') return Promise.reject(new Error('handler bug'));
      return Promise.resolve({status: HealthCheckResponse_ServingStatus.SERVING});
    },
    async *watch(_request, context) {
      for (let i = 0; i < 3 && !context.signal.aborted; i++) {
        await Promise.resolve();
        yield {status: HealthCheckResponse_ServingStatus.SERVING};
      }
    },
  });
  const onUnexpectedError = (_path: string, error: unknown) => errors.push(error);
  const listener = await ClientListener.listen([new URL('http://127.0.0.1:0')], {
    grpc: new GrpcServer(methods, {maxReceiveBytes: 1 << 20, onUnexpectedError}),
    endpoints: (method, path) => ({
      status: 200,
      headers: {'content-type': 'application/json'},
      body: JSON.stringify({method, path}),
    }),
    gateway: new Gateway({methods: new Map(), maxReceiveBytes: 1 << 20, onUnexpectedError}),
  });
  listeners.push(listener);
  const [address] = listener.addresses;
  if (address === undefined) throw new Error('listener has no address');
  return {url: `${address.host}:${address.port}`, errors};
}

describe('client port serving gRPC and HTTP together', () => {
  it('answers gRPC calls and HTTP requests on one port', async () => {
    const {url} = await startListener();
    const channel = createChannel(url);
    try {
      const health = createClient(HealthDefinition, channel);
      await expect(health.check({service: ''})).resolves.toEqual({
        status: HealthCheckResponse_ServingStatus.SERVING,
      });
      const response = await fetch(`http://${url}/health`);
      expect(response.status).toBe(200);
      expect(await response.json()).toEqual({method: 'GET', path: '/health'});
    } finally {
      channel.close();
    }
  });

  it('answers plain HTTP/2 requests beside gRPC calls on one connection', async () => {
    const {url} = await startListener();
    const session = http2.connect(`http://${url}`);
    try {
      const body = await new Promise<string>((resolve, reject) => {
        const stream = session.request({':method': 'GET', ':path': '/health?x=1'});
        let text = '';
        stream.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
        stream.on('end', () => {
          resolve(text);
        });
        stream.on('error', reject);
      });
      expect(JSON.parse(body)).toEqual({method: 'GET', path: '/health'});
      const channel = createChannel(url);
      try {
        const health = createClient(HealthDefinition, channel);
        await expect(health.check({service: ''})).resolves.toEqual({
          status: HealthCheckResponse_ServingStatus.SERVING,
        });
      } finally {
        channel.close();
      }
    } finally {
      session.close();
    }
  });

  it('carries status codes from handlers, and hides nothing of an unexpected error', async () => {
    const {url, errors} = await startListener();
    const channel = createChannel(url);
    try {
      const health = createClient(HealthDefinition, channel);
      await expect(health.check({service: 'unknown'})).rejects.toMatchObject({
        code: Status.NOT_FOUND,
        details: 'unknown service',
      });
      await expect(health.check({service: 'crash'})).rejects.toMatchObject({
        code: Status.UNKNOWN,
        details: 'handler bug',
      });
      expect(errors).toHaveLength(1);
    } finally {
      channel.close();
    }
  });

  it('serves a call whose :authority is a URL, as etcdctl 3.4 sends, and shows the peer', async () => {
    const {url} = await startListener();
    // Node's HTTP/2 server alone resets such a stream: the listener reads the connection
    // through an AuthorityRewriter.
    const channel = createChannel(url, undefined, {'grpc.default_authority': `http://${url}`});
    try {
      const health = createClient(HealthDefinition, channel);
      await expect(health.check({service: ''})).resolves.toEqual({
        status: HealthCheckResponse_ServingStatus.SERVING,
      });
      await expect(health.check({service: 'peer'})).rejects.toMatchObject({
        details: expect.stringMatching(/^127\.0\.0\.1:\d+$/) as unknown,
      });
    } finally {
      channel.close();
    }
  });

  it('hands a connection whose first request needs no rewriting to grpc-js as it came', async () => {
    const {url} = await startListener();
    const channel = createChannel(url);
    try {
      const health = createClient(HealthDefinition, channel);
      await expect(health.check({service: 'peer'})).rejects.toMatchObject({
        details: expect.stringMatching(/^127\.0\.0\.1:\d+$/) as unknown,
      });
    } finally {
      channel.close();
    }
  });

  it('streams server responses to the end', async () => {
    const {url} = await startListener();
    const channel = createChannel(url);
    try {
      const health = createClient(HealthDefinition, channel);
      const statuses: HealthCheckResponse_ServingStatus[] = [];
      for await (const r of health.watch({service: ''})) statuses.push(r.status);
      expect(statuses).toEqual([1, 1, 1]);
    } finally {
      channel.close();
    }
  });
});
