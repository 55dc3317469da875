import {spawn, spawnSync} from 'node:child_process';
import type {ChildProcess} from 'node:child_process';
import {fileURLToPath} from 'node:url';

import type {EtcdMember} from '@synod/testing';

/**
 * Runs `etcd3gw_scenario.py`, a story told to a JSON gateway through python's etcd3gw (the
 * OpenStack client, Debian package python3-etcd3gw), and brings its transcript into a form
 * two servers' transcripts can be compared in.
 *
 * What {@link normaliseStory} normalises, and why:
 * - revisions (`revision`, `create_revision`, `mod_revision`) become `rev+n`, n counted from
 *   the revision the story read at its start, so a story told twice to one server, or to two
 *   servers, reads the same.
 * - ids (`ID`, `lease`, `cluster_id`, `member_id`, `leader`): each server picks its own, so
 *   every non-zero one becomes `id#n`, n counting ids in the order the transcript shows them.
 * - what is each server's own and not the client's business: `raft_term`, and in `status`
 *   the `version`, `dbSize`, `dbSizeInUse`, `raftIndex`, `raftAppliedIndex` and `raftTerm`,
 *   become `<own>`: present, not compared. `dbSizeQuota`, a field of etcd 3.6's
 *   StatusResponse that etcd 3.4 does not have, is dropped.
 * - the member's URLs become `<client url>` and `<peer url>`: the ports are picked per run.
 * - a remaining lease TTL (`TTL` beside `grantedTTL`) within 2 s below the granted TTL
 *   becomes `~granted`: a timing, and etcd truncates the remainder where Synod rounds it up.
 * Everything else is compared as is: values, keys, counts, booleans, event types, errors.
 */

/** One line of the story's transcript: a step and what the client handed back, or its error. */
export interface StoryLine {
  readonly step: string;
  readonly result?: unknown;
  readonly error?: unknown;
}

/** The story: one file next to this one, run by python3. */
const scenario = fileURLToPath(new URL('etcd3gw_scenario.py', import.meta.url));

/**
 * The python that can import etcd3gw. Debian's python3-etcd3gw is installed for the system
 * interpreter, which a pyenv or virtualenv python3 earlier on PATH does not see.
 */
export const etcd3gwPython: string | undefined = ['python3', '/usr/bin/python3'].find(
  python => spawnSync(python, ['-c', 'import etcd3gw'], {stdio: 'ignore'}).status === 0,
);

/** Why the etcd3gw suite is skipped on this machine, or undefined when it can run. */
export const etcd3gwSkipReason: string | undefined = findSkipReason();

function findSkipReason(): string | undefined {
  if (etcd3gwPython !== undefined) return undefined;
  const reason =
    'python3 with the etcd3gw module is not installed ("python3 -c \'import etcd3gw\'" ' +
    'failed): install the Debian package python3-etcd3gw to run the JSON gateway client tests';
  // On CI a missing client must fail the build rather than silently skip the suite.
  if (process.env.CI !== undefined && process.env.CI !== '') throw new Error(reason);
  return reason;
}

/** Stories still running, killed by pid if a test ends before they do. */
const running = new Set<ChildProcess>();

/** Kills a story's process by its pid, unless it has exited already. */
function kill(child: ChildProcess): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(child.pid, 'SIGKILL');
  } catch {
    // It exited between the check and the signal.
  }
}

/** Kills every story still running. */
export function killStories(): void {
  for (const child of running) kill(child);
  running.clear();
}

/**
 * Tells the story to the gateway at `clientUrl`, through `apiPath`, or through etcd3gw's
 * default prefix when `apiPath` is undefined, and returns its transcript.
 */
export async function tellStory(
  clientUrl: string,
  apiPath: string | undefined,
  timeoutMs = 25_000,
): Promise<StoryLine[]> {
  if (etcd3gwPython === undefined) throw new Error(etcd3gwSkipReason);
  const {hostname, port} = new URL(clientUrl);
  const args = [scenario, hostname, port, ...(apiPath === undefined ? [] : [apiPath])];
  const child = spawn(etcd3gwPython, args, {stdio: ['ignore', 'pipe', 'pipe']});
  running.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const timer = setTimeout(() => {
    kill(child);
  }, timeoutMs);
  const code = await new Promise<number | null>(resolve => child.once('close', resolve));
  clearTimeout(timer);
  running.delete(child);
  if (code !== 0) {
    throw new Error(`the etcd3gw story exited with ${String(code)}:\n${stderr}\n${stdout}`);
  }
  return stdout
    .split('\n')
    .filter(line => line !== '')
    .map(line => JSON.parse(line) as StoryLine);
}

const revisionFields = new Set(['revision', 'create_revision', 'mod_revision']);
const idFields = new Set(['ID', 'lease', 'cluster_id', 'member_id', 'leader']);
const ownFields = new Set([
  'raft_term',
  'raftTerm',
  'raftIndex',
  'raftAppliedIndex',
  'dbSize',
  'dbSizeInUse',
]);
const OWN = '<own>';

/** The state of one transcript's normalisation. */
class Normaliser {
  private readonly ids: string[] = [];

  constructor(
    private readonly startRevision: number,
    private readonly urls: ReadonlyMap<string, string>,
  ) {}

  line(line: StoryLine): StoryLine {
    if (line.error !== undefined) return {step: line.step, error: line.error};
    let result = line.result;
    if (line.step === 'status' && isObject(result)) {
      // `version` is also a key's field, compared everywhere else.
      const status = Object.entries(result).filter(([k]) => k !== 'dbSizeQuota');
      result = {...Object.fromEntries(status), version: OWN};
    }
    return {step: line.step, result: this.value(result, '')};
  }

  private value(value: unknown, key: string): unknown {
    if (Array.isArray(value)) {
      return value.map(item => this.value(item, key));
    }
    if (isObject(value)) {
      const entries = Object.entries(value).map(([k, v]) => [k, this.value(v, k)] as const);
      const granted = Number(value.grantedTTL ?? 0);
      const ttl = Number(value.TTL ?? 0);
      const remaining = granted > 0 && ttl > 0 && ttl <= granted && ttl >= granted - 2;
      return Object.fromEntries(
        entries.map(([k, v]) => [k, k === 'TTL' && remaining ? `~${String(granted)}` : v]),
      );
    }
    if (value === OWN) return value;
    if (revisionFields.has(key)) return `rev+${String(Number(value) - this.startRevision)}`;
    if (idFields.has(key) && String(value) !== '0') return this.id(String(value));
    if (ownFields.has(key)) return OWN;
    if (typeof value === 'string') return this.urls.get(value) ?? value;
    return value;
  }

  private id(id: string): string {
    if (!this.ids.includes(id)) this.ids.push(id);
    return `id#${String(this.ids.indexOf(id))}`;
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** The transcript of a story told to `member`, normalised as described at the top. */
export function normaliseStory(lines: readonly StoryLine[], member: EtcdMember): StoryLine[] {
  const start = lines.find(line => line.step === 'start_revision')?.result;
  if (!isObject(start)) throw new Error('the story did not report its start revision');
  const urls = new Map([
    [member.clientUrl, '<client url>'],
    [member.peerUrl, '<peer url>'],
  ]);
  const normaliser = new Normaliser(Number(start.revision), urls);
  return lines.map(line => normaliser.line(line));
}
