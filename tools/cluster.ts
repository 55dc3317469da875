/**
 * `npm run cluster`: a local three-member Synod cluster in one terminal.
 * Members listen for clients on 127.0.0.1:2379, 22379 and 32379 (peers on
 * 2380, 22380, 32380; ZooKeeper clients on 2181, 2182, 2183) with their data
 * under ./local-cluster/; every line a
 * member prints is prefixed with its name. Ctrl-C stops all three.
 */
import {spawn} from 'node:child_process';
import type {ChildProcess} from 'node:child_process';
import {createInterface} from 'node:readline';
import {fileURLToPath} from 'node:url';

const entry = fileURLToPath(new URL('../apps/server/src/run.ts', import.meta.url));
const members = [
  {name: 'infra1', client: 2379, peer: 2380, zk: 2181},
  {name: 'infra2', client: 22379, peer: 22380, zk: 2182},
  {name: 'infra3', client: 32379, peer: 32380, zk: 2183},
];
const initialCluster = members.map(m => `${m.name}=http://127.0.0.1:${m.peer}`).join(',');
const colours = ['\x1b[36m', '\x1b[35m', '\x1b[33m'];
const reset = '\x1b[0m';

const children: ChildProcess[] = members.map((m, i) => {
  const child = spawn(
    process.execPath,
    [
      '--conditions=@synod/source',
      '--import',
      'tsx',
      entry,
      `--name=${m.name}`,
      `--data-dir=local-cluster/${m.name}.synod`,
      `--listen-client-urls=http://127.0.0.1:${m.client}`,
      `--advertise-client-urls=http://127.0.0.1:${m.client}`,
      `--listen-peer-urls=http://127.0.0.1:${m.peer}`,
      `--initial-advertise-peer-urls=http://127.0.0.1:${m.peer}`,
      `--initial-cluster=${initialCluster}`,
      '--initial-cluster-token=local-cluster',
      `--listen-zk-urls=http://127.0.0.1:${m.zk}`,
      ...process.argv.slice(2),
    ],
    {stdio: ['ignore', 'pipe', 'pipe']},
  );
  const prefix = `${colours[i % colours.length] ?? ''}${m.name.padEnd(7)}|${reset} `;
  for (const stream of [child.stdout, child.stderr]) {
    createInterface({input: stream}).on('line', line => {
      process.stdout.write(`${prefix}${line}\n`);
    });
  }
  child.on('exit', (code, signal) => {
    process.stdout.write(`${prefix}exited (${signal ?? `code ${code ?? 0}`})\n`);
  });
  return child;
});

process.stdout.write(
  `cluster: ${members.map(m => `${m.name} on 127.0.0.1:${m.client} (ZooKeeper ${m.zk})`).join(', ')}; Ctrl-C stops it\n`,
);

let stopping = false;
function stopAll(): void {
  if (stopping) return;
  stopping = true;
  for (const child of children) if (child.exitCode === null) child.kill('SIGTERM');
}
process.on('SIGINT', stopAll);
process.on('SIGTERM', stopAll);
await Promise.all(children.map(c => new Promise(resolve => c.once('exit', resolve))));
