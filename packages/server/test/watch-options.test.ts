import {mkdtempSync, rmSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';

import type {WatchRequest, WatchResponse} from '@synod/proto';
import {KVDefinition, WatchDefinition} from '@synod/proto';
import type {Channel} from 'nice-grpc';
import {createChannel, createClient} from 'nice-grpc';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';

import type {Member} from '../src/index.js';
import {startSoloMember} from './support/in-process-cluster.js';

function create(
  partial: Partial<NonNullable<WatchRequest['requestUnion']> & {value: object}>['value'],
) {
  return {
    requestUnion: {
      $case: 'createRequest' as const,
      value: {
        key: Buffer.alloc(0),
        rangeEnd: Buffer.alloc(0),
        startRevision: 0n,
        progressNotify: false,
        filters: [],
        prevKv: false,
        watchId: 0n,
        fragment: false,
        ...partial,
      },
    },
  };
}

/** Opens a watch stream with one create request and collects responses until `done` says so. */
async function collect(
  channel: Channel,
  request: ReturnType<typeof create>,
  done: (responses: WatchResponse[]) => boolean,
  timeoutMs = 5000,
): Promise<WatchResponse[]> {
  const abort = new AbortController();
  const timer = setTimeout(() => {
    abort.abort();
  }, timeoutMs);
  async function* requests() {
    yield request;
    await new Promise(resolve => {
      abort.signal.addEventListener('abort', resolve);
    });
  }
  const got: WatchResponse[] = [];
  try {
    for await (const r of createClient(WatchDefinition, channel).watch(requests(), {
      signal: abort.signal,
    })) {
      got.push(r);
      if (done(got)) break;
    }
  } catch (error) {
    if (!abort.signal.aborted) throw error;
  } finally {
    clearTimeout(timer);
    abort.abort();
  }
  return got;
}

describe('watch progress notifications and fragments', () => {
  let dir: string;
  let member: Member;
  let channel: Channel;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'synod-watch-'));
    member = await startSoloMember(join(dir, 'solo'), {
      maxRequestBytes: 200 * 1024,
      watchProgressNotifyIntervalMs: 200,
    });
    channel = createChannel(member.clientAddresses[0] ?? '');
  });

  afterAll(async () => {
    channel.close();
    await member.close();
    rmSync(dir, {recursive: true, force: true});
  });

  it('tells a quiet progress_notify watcher the current revision, under its own id', async () => {
    const kv = createClient(KVDefinition, channel);
    const put = await kv.put({key: Buffer.from('quiet'), value: Buffer.from('1')});
    const got = await collect(
      channel,
      create({key: Buffer.from('quiet'), progressNotify: true}),
      r => r.some(x => !x.created && x.events.length === 0),
    );
    const [created, progress] = got;
    expect(created?.created).toBe(true);
    expect(progress?.watchId).toBe(created?.watchId);
    expect(progress?.events).toEqual([]);
    expect(progress?.header?.revision).toBeGreaterThanOrEqual(put.header?.revision ?? 0n);
  });

  it('does not send progress to a watcher that did not ask for it', async () => {
    const got = await collect(channel, create({key: Buffer.from('silent')}), () => false, 700);
    expect(got.map(r => r.created)).toEqual([true]);
  });

  it('splits a catch-up larger than the request limit into fragments that add up to the whole', async () => {
    const kv = createClient(KVDefinition, channel);
    const value = Buffer.alloc(150 * 1024, 'x');
    let first = 0n;
    for (let i = 0; i < 8; i++) {
      const r = await kv.put({key: Buffer.from(`big/${i}`), value});
      if (i === 0) first = r.header?.revision ?? 0n;
    }
    const watchBig = {
      key: Buffer.from('big/'),
      rangeEnd: Buffer.from('big0'),
      startRevision: first,
    };
    const fragmented = await collect(
      channel,
      create({...watchBig, fragment: true}),
      r => r.reduce((n, x) => n + x.events.length, 0) >= 8,
    );
    const parts = fragmented.filter(r => r.events.length > 0);
    expect(parts.length).toBeGreaterThan(1);
    expect(parts.slice(0, -1).every(r => r.fragment)).toBe(true);
    expect(parts.at(-1)?.fragment).toBe(false);
    expect(parts.flatMap(r => r.events.map(e => e.kv?.key.toString()))).toEqual(
      Array.from({length: 8}, (_, i) => `big/${i}`),
    );
    const whole = await collect(
      channel,
      create(watchBig),
      r => r.reduce((n, x) => n + x.events.length, 0) >= 8,
    );
    expect(whole.every(r => !r.fragment)).toBe(true);
  });
});
