import {sleep, startEtcd, startSynod} from '@synod/testing';

import type {Outcome, OutcomeClass} from './classify.js';
import {classify, toOutcome} from './classify.js';
import {whyUnsafe} from './guard.js';
import type {InputKind} from './inputs.js';
import {generateInput} from './inputs.js';
import {FuzzTarget} from './target.js';

/** What to run. */
export interface FuzzOptions {
  readonly seed: number;
  /** Stop drawing inputs after this many seconds (the run's set-up is not counted). */
  readonly seconds?: number;
  /** Stop after this many inputs. */
  readonly maxInputs?: number;
  /** Synod members: 1 or 3. etcd always runs one member. */
  readonly members?: number;
  /** Compare with etcd (true by default). */
  readonly withEtcd?: boolean;
  /** Index of the first input; with `maxInputs: 1` this replays one input. */
  readonly from?: number;
  /** Run the safety checks after this many inputs, 20 by default; 1 pins a failure to its input. */
  readonly batchSize?: number;
  /** Progress lines (failures, restarts). */
  readonly log?: (line: string) => void;
}

/** One input and what became of it. */
export interface InputRecord {
  readonly index: number;
  readonly label: string;
  readonly kind: InputKind;
  readonly what: string;
  readonly cls: OutcomeClass;
  /** Why the guard did not send it, for `skipped`. */
  readonly skipped?: string;
  readonly etcd?: Outcome;
  readonly synod?: Outcome;
}

/** A broken safety property, with the inputs that may have broken it. */
export interface SafetyFailure {
  readonly server: 'Synod' | 'etcd';
  readonly firstIndex: number;
  readonly lastIndex: number;
  readonly problem: string;
  /** The command line that replays it. */
  readonly replay: string;
}

export interface FuzzReport {
  readonly seed: number;
  readonly members: number;
  readonly withEtcd: boolean;
  /** Time spent sending inputs and checking, without the first start of the servers. */
  readonly elapsedMs: number;
  readonly records: readonly InputRecord[];
  readonly failures: readonly SafetyFailure[];
}

/**
 * How long the checks wait after a batch before looking: Synod commits applied writes to
 * its backend every 100 ms (`--backend-batch-interval`), and a write the backend refuses
 * ends the member only then.
 */
const settleMs = 250;

/** Deadline for a unary call, and for a call that may legitimately wait. */
const answerTimeoutMs = 3000;
const openCallTimeoutMs = 600;

/**
 * Sends inputs `from`, `from + 1`, ... to a fresh Synod cluster and, unless told not to, to
 * a fresh etcd member, until the time or input budget runs out; checks the safety
 * properties after every batch; restarts whichever server died (a dead etcd is an "etcd
 * crashes" input, a dead or unsafe Synod a failure) and carries on.
 */
export async function runFuzz(options: FuzzOptions): Promise<FuzzReport> {
  const seed = options.seed;
  const members = options.members ?? 1;
  const withEtcd = options.withEtcd ?? true;
  const batchSize = options.batchSize ?? 20;
  const log = options.log ?? (() => undefined);
  const replay = (first: number, last: number): string =>
    `npm run fuzz -- --seed ${seed}${members === 1 ? '' : ` --members ${members}`}` +
    (first === last
      ? ` --only ${first}`
      : ` --from ${first} --inputs ${last - first + 1} --batch 1`);

  const synod = new FuzzTarget('Synod', () => startSynod({members}));
  const etcd = withEtcd ? new FuzzTarget('etcd', () => startEtcd({members: 1})) : undefined;
  const records: InputRecord[] = [];
  const failures: SafetyFailure[] = [];
  const fail = (server: 'Synod' | 'etcd', first: number, last: number, problem: string): void => {
    const failure = {
      server,
      firstIndex: first,
      lastIndex: last,
      problem,
      replay: replay(first, last),
    };
    failures.push(failure);
    log(
      `${server} failed after input${first === last ? ` ${first}` : `s ${first}..${last}`}: ${problem}\n` +
        `  replay: ${failure.replay}`,
    );
  };

  try {
    await Promise.all([synod.open(), etcd?.open()]);
    const startedAt = Date.now();
    const deadline = startedAt + (options.seconds ?? Infinity) * 1000;
    const maxInputs = options.maxInputs ?? Infinity;
    let index = options.from ?? 0;
    let batchFirst = index;
    let sent = 0;
    while (sent < maxInputs && Date.now() < deadline) {
      const input = generateInput(seed, index);
      const label = input.method.label;
      const liveMemberIds = new Set([...synod.memberIds, ...(etcd?.memberIds ?? [])]);
      const skipped = whyUnsafe(input, {liveMemberIds});
      if (skipped !== undefined) {
        records.push({index, label, kind: input.kind, what: input.what, cls: 'skipped', skipped});
      } else {
        const timeoutMs = input.method.mayStayOpen ? openCallTimeoutMs : answerTimeoutMs;
        const [etcdResult, synodResult] = await Promise.all([
          etcd?.send(input, timeoutMs),
          synod.send(input, timeoutMs),
        ]);
        const hexIds = (t: FuzzTarget | undefined): string[] =>
          (t?.memberIds ?? []).map(id => id.toString(16));
        const synodOutcome = toOutcome(synodResult, hexIds(synod));
        const etcdOutcome =
          etcdResult === undefined ? undefined : toOutcome(etcdResult, hexIds(etcd));
        let cls: OutcomeClass =
          etcdOutcome === undefined
            ? synodOutcome.timedOut && !input.method.mayStayOpen
              ? 'Synod timed out'
              : 'not compared'
            : classify(etcdOutcome, synodOutcome);
        const [etcdDead, synodDead] = await Promise.all([
          etcd?.deadMembers(etcdResult?.status === undefined) ?? [],
          synod.deadMembers(synodResult.status === undefined),
        ]);
        if (etcd !== undefined && etcdDead.length > 0) {
          cls = 'etcd crashes';
          log(`etcd crashed on input ${index} (${label}: ${input.what}); starting a fresh etcd`);
          await etcd.open();
        }
        if (synodDead.length > 0) {
          cls = 'Synod crashes';
          // A member may die of an earlier input of the batch: writes reach the backend up
          // to its batch interval later.
          fail('Synod', batchFirst, index, `${synodDead.join(', ')} exited\n${synod.outputTail()}`);
          await synod.open();
          batchFirst = index + 1;
        } else {
          const [etcdCleanUp, synodCleanUp] = await Promise.all([
            etcdDead.length > 0 ? undefined : etcd?.cleanUpAfter(label),
            synod.cleanUpAfter(label),
          ]);
          if (synodCleanUp !== undefined) fail('Synod', index, index, synodCleanUp);
          if (etcdCleanUp !== undefined) log(`etcd, input ${index}: ${etcdCleanUp}`);
        }
        records.push({
          index,
          label,
          kind: input.kind,
          what: input.what,
          cls,
          ...(etcdOutcome === undefined ? {} : {etcd: etcdOutcome}),
          synod: synodOutcome,
        });
        sent++;
      }
      const last = sent >= maxInputs || Date.now() >= deadline;
      // Each regression input is a batch of its own, so a crash is pinned to it.
      if (index - batchFirst + 1 >= batchSize || last || input.kind === 'regression') {
        await sleep(settleMs);
        const [synodProblems, etcdProblems] = await Promise.all([
          synod.check(),
          etcd?.check() ?? [],
        ]);
        if (synodProblems.length > 0) {
          fail('Synod', batchFirst, index, synodProblems.join('\n'));
          const onlyInput = records.at(-1);
          if (
            batchFirst === index &&
            onlyInput?.index === index &&
            / exited\n/.test(synodProblems[0] ?? '')
          ) {
            records[records.length - 1] = {...onlyInput, cls: 'Synod crashes'};
          }
          if (!last) await synod.open();
        }
        if (etcd !== undefined && etcdProblems.length > 0) {
          // etcd is the reference: a broken property there means the guard let something
          // through, which is worth knowing, and etcd starts afresh.
          fail('etcd', batchFirst, index, etcdProblems.join('\n'));
          if (!last) await etcd.open();
        }
        batchFirst = index + 1;
      }
      index++;
    }
    return {seed, members, withEtcd, elapsedMs: Date.now() - startedAt, records, failures};
  } finally {
    await Promise.all([synod.stop(), etcd?.stop()]);
  }
}
