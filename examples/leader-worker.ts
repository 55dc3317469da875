/**
 * A worker that does its job only while it is the elected leader.
 *
 * Run several copies against a server on 127.0.0.1:2379 (or pass endpoints):
 *   node --conditions=@synod/source --import tsx examples/leader-worker.ts [endpoint...]
 * One of them leads and ticks; stop it (Ctrl-C) and another takes over. Pause it
 * (Ctrl-Z) longer than the TTL and it stops ticking on its own before the others elect a
 * new leader; `fg` brings it back as a follower.
 */
import {createClient, op} from '@synod/client';
import {Election, Session} from '@synod/recipes';
import {filter, firstValueFrom} from 'rxjs';

const endpoints = process.argv.length > 2 ? process.argv.slice(2) : ['127.0.0.1:2379'];
const client = createClient({endpoints});
const me = `worker-${process.pid}`;

async function lead(): Promise<void> {
  const session = await Session.create(client, {ttlSec: 5});
  const election = new Election(session, 'examples/leader-worker');
  console.log(`${me}: campaigning`);
  await election.campaign(me);
  console.log(`${me}: leading`);
  const lost = firstValueFrom(election.isLeader$.pipe(filter(leading => !leading)));
  const state = {leading: true};
  void lost.then(() => {
    state.leading = false;
    console.log(`${me}: lost leadership, stopping work`);
  });
  const leading = (): boolean => state.leading;
  while (leading()) {
    // Every write is fenced by the leadership: a deposed leader's writes fail.
    const result = await client.kv
      .txn()
      .if(election.guard())
      .then(op.put('examples/leader-worker/last-tick', `${me} ${new Date().toISOString()}`))
      .commit()
      .catch(() => undefined);
    if (result?.succeeded === true) console.log(`${me}: tick`);
    await new Promise(resolve => setTimeout(resolve, 1_000));
  }
  await session.close().catch(() => undefined);
}

process.once('SIGINT', () => {
  client.close();
  process.exit(0);
});

for (;;) {
  try {
    await lead();
  } catch (error) {
    console.error(`${me}: ${error instanceof Error ? error.message : String(error)}`);
    await new Promise(resolve => setTimeout(resolve, 1_000));
  }
}
