import {mkdtempSync, rmSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';

import {Etcd3} from 'etcd3';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';

import type {Member} from '../src/index.js';
import {startSoloMember} from './support/in-process-cluster.js';

describe('one in-process member, used through the etcd3 npm client', () => {
  let dir: string;
  let member: Member;
  let client: Etcd3;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'synod-member-'));
    member = await startSoloMember(join(dir, 'solo.synod'));
    client = new Etcd3({hosts: `http://${member.clientAddresses[0] ?? ''}`});
  });

  afterAll(async () => {
    client.close();
    await member.close();
    rmSync(dir, {recursive: true, force: true});
  });

  it('puts and gets a key', async () => {
    await client.put('greeting').value('hello');
    expect(await client.get('greeting').string()).toBe('hello');
  });

  it('reads a prefix in key order with revisions that count up', async () => {
    await client.put('fruit/b').value('banana');
    await client.put('fruit/a').value('apple');
    const all = await client.getAll().prefix('fruit/').strings();
    expect(all).toEqual({'fruit/a': 'apple', 'fruit/b': 'banana'});
    const res = await client.getAll().prefix('fruit/').exec();
    const [a, b] = res.kvs;
    expect(Number(a?.mod_revision)).toBeGreaterThan(Number(b?.mod_revision));
  });

  it('runs a compare-and-swap transaction', async () => {
    await client.put('cas').value('1');
    const won = await client
      .if('cas', 'Value', '==', '1')
      .then(client.put('cas').value('2'))
      .else(client.get('cas'))
      .commit();
    expect(won.succeeded).toBe(true);
    const lost = await client
      .if('cas', 'Value', '==', '1')
      .then(client.put('cas').value('3'))
      .commit();
    expect(lost.succeeded).toBe(false);
    expect(await client.get('cas').string()).toBe('2');
  });

  it('deletes a range and reports how many keys went', async () => {
    await client.put('del/1').value('x');
    await client.put('del/2').value('y');
    const res = await client.delete().prefix('del/').exec();
    expect(res.deleted).toBe('2');
    expect(await client.getAll().prefix('del/').keys()).toEqual([]);
  });

  it('delivers watch events in order', async () => {
    const watcher = await client.watch().prefix('w/').create();
    const seen: string[] = [];
    const done = new Promise<void>(resolve => {
      watcher.on('put', kv => {
        seen.push(kv.value.toString());
        if (seen.length === 3) resolve();
      });
    });
    await client.put('w/1').value('a');
    await client.put('w/2').value('b');
    await client.put('w/1').value('c');
    await done;
    expect(seen).toEqual(['a', 'b', 'c']);
    await watcher.cancel();
  });

  it('expires a lease and deletes its keys', async () => {
    const lease = client.lease(2, {autoKeepAlive: false});
    await lease.put('ephemeral').value('here');
    expect(await client.get('ephemeral').string()).toBe('here');
    await new Promise(r => setTimeout(r, 3500));
    expect(await client.get('ephemeral').string()).toBeNull();
  });

  it("fails a read below the compacted revision with etcd's error", async () => {
    await client.put('c').value('1');
    const first = await client.get('c').exec();
    await client.put('c').value('2');
    const rev = first.header.revision;
    await client.put('c').value('3');
    const now = await client.get('c').exec();
    await client.kv.compact({revision: now.header.revision});
    await expect(client.get('c').revision(rev).string()).rejects.toThrow(
      'required revision has been compacted',
    );
  });

  it('answers /health and /version over HTTP on the client port', async () => {
    const base = `http://${member.clientAddresses[0] ?? ''}`;
    const health = await fetch(`${base}/health`);
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({health: 'true'});
    const version = (await (await fetch(`${base}/version`)).json()) as Record<string, string>;
    expect(Object.keys(version).sort()).toEqual(['etcdcluster', 'etcdserver']);
  });

  it("exports Prometheus metrics under etcd's names on /metrics", async () => {
    await client.put('metered').value('1');
    const text = await (await fetch(`http://${member.clientAddresses[0] ?? ''}/metrics`)).text();
    expect(text).toMatch(/^etcd_server_has_leader 1$/m);
    expect(text).toMatch(/^etcd_server_is_leader 1$/m);
    expect(text).toMatch(
      /^grpc_server_started_total\{grpc_method="Put",grpc_service="etcdserverpb.KV",grpc_type="unary"\} [1-9]/m,
    );
    expect(text).toMatch(
      /^grpc_server_handled_total\{grpc_code="OK",grpc_method="Put",grpc_service="etcdserverpb.KV",grpc_type="unary"\} [1-9]/m,
    );
    expect(text).toMatch(/^etcd_debugging_mvcc_current_revision \d+$/m);
  });
});
