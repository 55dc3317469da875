import {createHash} from 'node:crypto';
import {mkdtempSync, readdirSync, rmSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';

import {startZooKeeper, zkListing, zookeeperSkipReason} from '@synod/testing';
import type {EtcdMember, ZooKeeperEnsemble} from '@synod/testing';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';

import {importZooKeeper} from '../src/zk-import/import-zookeeper.js';
import {generateZkDataDir} from '../src/zk-import/zk-data-generator.js';
import {planImportedMember, startImportedMember} from './support/imported-member.js';

/**
 * The import benchmark (`npm run bench:zk-import`) writes its million-znode ZooKeeper data dir
 * itself (`generateZkDataDir`), because driving a real ZooKeeper to make it would take far
 * longer than the import. That writer is trusted only because the real ZooKeeper 3.8 loads
 * what it writes: here ZooKeeper starts on a generated snapshot (ACL cache, digest ACLs,
 * versions, a live session's ephemerals) and log (creates, setData, multis), and must serve
 * the same listing as Synod serves after importing the same files.
 */
describe.skipIf(zookeeperSkipReason !== undefined)(
  'a generated ZooKeeper data dir (the import benchmark writer)',
  () => {
    let zk: ZooKeeperEnsemble;
    let synod: EtcdMember | undefined;
    let work: string;
    let synodZkPort: number;
    const superDigest = `super:${createHash('sha1').update('super:secret').digest('base64')}`;

    beforeAll(async () => {
      work = mkdtempSync(join(tmpdir(), 'synod-zk-writer-'));
      zk = await startZooKeeper({superDigest});
      const server = zk.servers[0];
      if (server === undefined) throw new Error('no ZooKeeper server');
      await zk.halt();
      const zkData = join(server.dir, 'data');
      rmSync(join(zkData, 'version-2'), {recursive: true, force: true});
      generateZkDataDir(zkData, {
        znodes: 400,
        fanout: 60,
        dataBytes: 8,
        logTxns: 90,
        ephemerals: 2,
      });
      expect(readdirSync(join(zkData, 'version-2')).sort()).toEqual([
        'log.100000193',
        'snapshot.100000192',
      ]);

      const plan = await planImportedMember(work, 'generated', 'zk-writer');
      const {spec, cluster} = plan;
      synodZkPort = plan.zkPort;
      const result = await importZooKeeper({
        zkDataDir: zkData,
        dataDir: spec.dataDir,
        name: spec.name,
        initialCluster: new Map([[spec.name, [new URL(spec.peerUrl)]]]),
        initialClusterToken: cluster.token,
      });
      expect(result.transactions).toBe(90);
      expect(result.droppedEphemerals).toBe(2);
      const synodStarted = startImportedMember(plan, superDigest);
      await zk.resume();
      synod = await synodStarted;
    }, 120_000);

    afterAll(async () => {
      await synod?.kill('SIGKILL');
      await zk.stop();
      rmSync(work, {recursive: true, force: true});
    });

    it('is loaded by ZooKeeper 3.8, which then serves what Synod serves from it', async () => {
      const server = zk.servers[0];
      if (server === undefined) throw new Error('no ZooKeeper server');
      const auth = ['digest:super:secret'];
      const fromSynod = await zkListing({host: '127.0.0.1', port: synodZkPort, auth});
      let fromZooKeeper: string[] = [];
      // The generated session expires 4 s after ZooKeeper's start.
      const deadline = Date.now() + 30_000;
      while (Date.now() < deadline) {
        fromZooKeeper = await zkListing({host: server.host, port: server.clientPort, auth});
        if (fromZooKeeper.join('\n') === fromSynod.join('\n')) break;
        await new Promise(resolve => setTimeout(resolve, 250));
      }
      expect(fromSynod.join('\n')).toBe(fromZooKeeper.join('\n'));
      // The snapshot's nodes and the log's changes are both there.
      expect(fromSynod).toContainEqual(
        expect.stringMatching(/^\/bench\/g0000\/n000001 data="set-29" .*version=30 /),
      );
      expect(fromSynod).toContainEqual(
        expect.stringMatching(/^\/bench\/g0000\/n000014 .*acl=\[world:anyone:1\]/),
      );
      expect(fromSynod).toContainEqual(expect.stringMatching(/^\/bench\/new29 data="new-29" /));
      expect(fromSynod.some(l => l.startsWith('/bench/new28'))).toBe(false);
      expect(fromSynod.some(l => l.startsWith('/bench/e0 '))).toBe(false);
    });
  },
);
