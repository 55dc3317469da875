import {mkdtempSync, rmSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';

import {Etcd3} from 'etcd3';
import {expect, it} from 'vitest';

import {startSoloMember} from './support/in-process-cluster.js';

it('compacts history older than the periodic retention window by itself', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'synod-autocompact-'));
  const member = await startSoloMember(join(dir, 'solo'), {
    autoCompactionMode: 'periodic',
    autoCompactionRetention: '1s',
  });
  const client = new Etcd3({hosts: `http://${member.clientAddresses[0] ?? ''}`});
  try {
    const first = await client.put('k').value('v0').exec();
    const oldRevision = first.header.revision;
    const deadline = Date.now() + 5000;
    let compacted = false;
    for (let i = 1; !compacted && Date.now() < deadline; i++) {
      await client.put('k').value(`v${i}`);
      await new Promise(r => setTimeout(r, 100));
      compacted = await client
        .get('k')
        .revision(oldRevision)
        .string()
        .then(
          () => false,
          (e: unknown) => String(e).includes('required revision has been compacted'),
        );
    }
    expect(compacted).toBe(true);
    // The recent window is kept: the latest value is readable at its own revision.
    const latest = await client.get('k').exec();
    expect(await client.get('k').revision(latest.header.revision).string()).not.toBeNull();
  } finally {
    client.close();
    await member.close();
    rmSync(dir, {recursive: true, force: true});
  }
});
