import {sleep, startEtcd, startSynod} from '@synod/testing';

import type {Outcome, OutcomeClass} from './classify.js';
import {classify, toOutcome} from './classify.js';
import {whyUnsafe} from './guard.js';
import type {FuzzInput, InputKind} from './inputs.js';
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
  const run = new FuzzRun(options);
  try {
    return await run.run();
  } finally {
    await run.stop();
  }
}

/** One run's servers, records and failures; `run()` is the loop, one method per step. */
class FuzzRun {
  private readonly seed: number;
  private readonly members: number;
  private readonly batchSize: number;
  private readonly log: (line: string) => void;
  private readonly synod: FuzzTarget;
  private readonly etcd: FuzzTarget | undefined;
  private readonly records: InputRecord[] = [];
  private readonly failures: SafetyFailure[] = [];
  /** The first input not yet covered by a safety check. Invariant: batchFirst <= next index. */
  private batchFirst = 0;

  constructor(private readonly options: FuzzOptions) {
    this.seed = options.seed;
    this.members = options.members ?? 1;
    this.batchSize = options.batchSize ?? 20;
    this.log = options.log ?? (() => undefined);
    const members = this.members;
    this.synod = new FuzzTarget('Synod', () => startSynod({members}));
    this.etcd =
      (options.withEtcd ?? true)
        ? new FuzzTarget('etcd', () => startEtcd({members: 1}))
        : undefined;
  }

  async run(): Promise<FuzzReport> {
    await Promise.all([this.synod.open(), this.etcd?.open()]);
    const startedAt = Date.now();
    const deadline = startedAt + (this.options.seconds ?? Infinity) * 1000;
    const maxInputs = this.options.maxInputs ?? Infinity;
    let index = this.options.from ?? 0;
    this.batchFirst = index;
    let sent = 0;
    while (sent < maxInputs && Date.now() < deadline) {
      const input = generateInput(this.seed, index);
      if (await this.step(input)) sent++;
      const last = sent >= maxInputs || Date.now() >= deadline;
      // Each regression input is a batch of its own, so a crash is pinned to it.
      if (index - this.batchFirst + 1 >= this.batchSize || last || input.kind === 'regression') {
        await this.checkBatch(index, last);
      }
      index++;
    }
    return {
      seed: this.seed,
      members: this.members,
      withEtcd: this.etcd !== undefined,
      elapsedMs: Date.now() - startedAt,
      records: this.records,
      failures: this.failures,
    };
  }

  async stop(): Promise<void> {
    await Promise.all([this.synod.stop(), this.etcd?.stop()]);
  }

  private fail(server: 'Synod' | 'etcd', first: number, last: number, problem: string): void {
    const members = this.members === 1 ? '' : ` --members ${this.members}`;
    const range =
      first === last
        ? ` --only ${first}`
        : ` --from ${first} --inputs ${last - first + 1} --batch 1`;
    const failure = {
      server,
      firstIndex: first,
      lastIndex: last,
      problem,
      replay: `npm run fuzz -- --seed ${this.seed}${members}${range}`,
    };
    this.failures.push(failure);
    this.log(
      `${server} failed after input${first === last ? ` ${first}` : `s ${first}..${last}`}: ${problem}\n` +
        `  replay: ${failure.replay}`,
    );
  }

  /** Sends one input to both servers and records what became of it; false if held back. */
  private async step(input: FuzzInput): Promise<boolean> {
    const {index, kind, what} = input;
    const label = input.method.label;
    const liveMemberIds = new Set([...this.synod.memberIds, ...(this.etcd?.memberIds ?? [])]);
    const skipped = whyUnsafe(input, {liveMemberIds});
    if (skipped !== undefined) {
      this.records.push({index, label, kind, what, cls: 'skipped', skipped});
      return false;
    }
    const timeoutMs = input.method.mayStayOpen ? openCallTimeoutMs : answerTimeoutMs;
    const [etcdResult, synodResult] = await Promise.all([
      this.etcd?.send(input, timeoutMs),
      this.synod.send(input, timeoutMs),
    ]);
    const synod = toOutcome(synodResult, hexIds(this.synod));
    const etcd = etcdResult === undefined ? undefined : toOutcome(etcdResult, hexIds(this.etcd));
    let cls: OutcomeClass;
    if (etcd !== undefined) cls = classify(etcd, synod);
    else cls = synod.timedOut && !input.method.mayStayOpen ? 'Synod timed out' : 'not compared';

    const [etcdDead, synodDead] = await Promise.all([
      this.etcd?.deadMembers(etcdResult?.status === undefined) ?? [],
      this.synod.deadMembers(synodResult.status === undefined),
    ]);
    if (this.etcd !== undefined && etcdDead.length > 0) {
      cls = 'etcd crashes';
      this.log(`etcd crashed on input ${index} (${label}: ${what}); starting a fresh etcd`);
      await this.etcd.open();
    }
    if (synodDead.length > 0) {
      cls = 'Synod crashes';
      // A member may die of an earlier input of the batch: writes reach the backend up to
      // its batch interval later.
      const problem = `${synodDead.join(', ')} exited\n${this.synod.outputTail()}`;
      this.fail('Synod', this.batchFirst, index, problem);
      await this.synod.open();
      this.batchFirst = index + 1;
    } else {
      const [etcdCleanUp, synodCleanUp] = await Promise.all([
        etcdDead.length > 0 ? undefined : this.etcd?.cleanUpAfter(label),
        this.synod.cleanUpAfter(label),
      ]);
      if (synodCleanUp !== undefined) this.fail('Synod', index, index, synodCleanUp);
      if (etcdCleanUp !== undefined) this.log(`etcd, input ${index}: ${etcdCleanUp}`);
    }
    this.records.push({
      index,
      label,
      kind,
      what,
      cls,
      ...(etcd === undefined ? {} : {etcd}),
      synod,
    });
    return true;
  }

  /** The safety checks for inputs batchFirst..last, on both servers. */
  private async checkBatch(last: number, endOfRun: boolean): Promise<void> {
    await sleep(settleMs);
    const [synodProblems, etcdProblems] = await Promise.all([
      this.synod.check(),
      this.etcd?.check() ?? [],
    ]);
    if (synodProblems.length > 0) {
      this.fail('Synod', this.batchFirst, last, synodProblems.join('\n'));
      const only = this.records.at(-1);
      const exited = / exited\n/.test(synodProblems[0] ?? '');
      if (exited && this.batchFirst === last && only?.index === last) {
        this.records[this.records.length - 1] = {
          ...only,
          cls: 'Synod crashes',
        };
      }
      if (!endOfRun) await this.synod.open();
    }
    if (this.etcd !== undefined && etcdProblems.length > 0) {
      // etcd is the reference: a broken property there means the guard let something
      // through, which is worth knowing, and etcd starts afresh.
      this.fail('etcd', this.batchFirst, last, etcdProblems.join('\n'));
      if (!endOfRun) await this.etcd.open();
    }
    this.batchFirst = last + 1;
  }
}

function hexIds(target: FuzzTarget | undefined): string[] {
  return (target?.memberIds ?? []).map(id => id.toString(16));
}
