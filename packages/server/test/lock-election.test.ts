import {mkdtempSync, rmSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';

import {ElectionDefinition, LeaseDefinition, LockDefinition} from '@synod/proto';
import type {Channel} from 'nice-grpc';
import {createChannel, createClient} from 'nice-grpc';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';

import type {Member} from '../src/index.js';
import {startSoloMember} from './support/in-process-cluster.js';

describe('the Lock and Election services', () => {
  let dir: string;
  let member: Member;
  let channel: Channel;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'synod-lock-'));
    member = await startSoloMember(join(dir, 'solo'));
    channel = createChannel(member.clientAddresses[0] ?? '');
  });

  afterAll(async () => {
    channel.close();
    await member.close();
    rmSync(dir, {recursive: true, force: true});
  });

  const lease = async () =>
    (await createClient(LeaseDefinition, channel).leaseGrant({TTL: 30n, ID: 0n})).ID;

  it('hands a lock to the next waiter only when the holder unlocks', async () => {
    const locks = createClient(LockDefinition, channel);
    const [a, b] = [await lease(), await lease()];
    const name = Buffer.from('job');
    const first = await locks.lock({name, lease: a});
    expect(first.key.toString()).toBe(`job/${a.toString(16)}`);
    let secondHeld = false;
    const second = locks.lock({name, lease: b}).then(r => {
      secondHeld = true;
      return r;
    });
    await new Promise(r => setTimeout(r, 300));
    expect(secondHeld).toBe(false);
    await locks.unlock({key: first.key});
    expect((await second).key.toString()).toBe(`job/${b.toString(16)}`);
  });

  it('elects the first candidate, reports proclaimed values, and passes on after a resign', async () => {
    const election = createClient(ElectionDefinition, channel);
    const [a, b] = [await lease(), await lease()];
    const name = Buffer.from('primary');
    const won = await election.campaign({name, lease: a, value: Buffer.from('alpha')});
    const leaderKey = won.leader;
    expect(leaderKey?.key.toString()).toBe(`primary/${a.toString(16)}`);
    const abort = new AbortController();
    const observed: string[] = [];
    const observing = (async () => {
      try {
        for await (const r of election.observe({name}, {signal: abort.signal})) {
          observed.push(r.kv?.value.toString() ?? '');
        }
      } catch {
        // Aborted at the end of the test.
      }
    })();
    const second = election.campaign({name, lease: b, value: Buffer.from('beta')});
    await new Promise(r => setTimeout(r, 200));
    await election.proclaim({leader: leaderKey, value: Buffer.from('alpha-2')});
    expect((await election.leader({name})).kv?.value.toString()).toBe('alpha-2');
    await election.resign({leader: leaderKey});
    const next = await second;
    expect(next.leader?.key.toString()).toBe(`primary/${b.toString(16)}`);
    await new Promise(r => setTimeout(r, 200));
    abort.abort();
    await observing;
    expect(observed).toEqual(['alpha', 'alpha-2', 'beta']);
    await expect(election.proclaim({leader: leaderKey, value: Buffer.from('x')})).rejects.toThrow(
      'election: not leader',
    );
  });

  it('answers "election: no leader" for an election nobody campaigns in', async () => {
    const election = createClient(ElectionDefinition, channel);
    await expect(election.leader({name: Buffer.from('empty')})).rejects.toThrow(
      'election: no leader',
    );
  });
});
