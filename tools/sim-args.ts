/**
 * The one command-line parser of `npm run sim`, for both modes: real members (the default) and
 * `--raft-only`. A flag that only one mode understands is refused in the other, by name.
 */
import type {InjectedBug} from '@synod/server';
import {injectedBugs, isInjectedBug} from '@synod/server';
import type {
  InjectedBugs,
  MemberSimOptions,
  MemberSimOverrides,
  SimOptions,
  SimOverrides,
} from '@synod/simulator';

export interface SimArgs {
  readonly raftOnly: boolean;
  readonly seed: number | undefined;
  readonly runs: number;
  readonly from: number;
  readonly trace: boolean;
  readonly maxFailures: number;
  /** Exact options of one run, as a failure prints them (`--options` / `--member-options`). */
  readonly raftExact: SimOptions | undefined;
  readonly memberExact: MemberSimOptions | undefined;
  readonly raftOverrides: SimOverrides;
  readonly memberOverrides: MemberSimOverrides;
}

type Mode = 'both' | 'raft-only' | 'members';

/** The raft-only model's injected bugs by their command-line names. */
const raftOnlyBugs: Record<string, keyof InjectedBugs> = {
  'ack-before-commit': 'ackBeforeCommit',
  'lose-synced-tail': 'loseSyncedTailOnCrash',
  'local-reads': 'localReads',
  'commit-earlier-term-by-count': 'commitEarlierTermByCount',
};

/** The raft-only fault classes a `--no-*` flag switches off. */
const raftOnlyFaults: Record<string, string> = {
  '--no-torn': 'tornWriteCrash',
  '--no-pause': 'pause',
  '--no-membership': 'membership',
  '--no-transfer': 'transferLeader',
};
const raftOnlyNetwork: Record<string, string> = {
  '--no-drop': 'dropProbability',
  '--no-duplicate': 'duplicateProbability',
  '--no-reorder': 'reorderProbability',
};

/** Parses `npm run sim`'s arguments; throws an Error that names the bad flag. */
export function parseSimArgs(argv: readonly string[]): SimArgs {
  const raftOnly = argv.includes('--raft-only');
  let seed: number | undefined;
  let runs = 1;
  let from = 1;
  let trace = false;
  let maxFailures = 20;
  let raftExact: SimOptions | undefined;
  let memberExact: MemberSimOptions | undefined;
  const faults: Record<string, number> = {};
  const network: Record<string, number> = {};
  const raftBugs: Record<string, boolean> = {};
  const memberBugs: InjectedBug[] = [];
  let raft: {nodes?: number; durationMs?: number; reportLoss?: boolean} = {};
  let member: {-readonly [K in keyof MemberSimOverrides]: MemberSimOverrides[K]} = {};

  const only = (flag: string, mode: Mode): void => {
    if (mode === 'raft-only' && !raftOnly) {
      throw new Error(`${flag} applies to --raft-only runs only`);
    }
    if (mode === 'members' && raftOnly) {
      throw new Error(`${flag} applies to runs of real members only (drop --raft-only)`);
    }
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i] ?? '';
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${flag} needs a value`);
      return v;
    };
    const int = (): number => {
      const v = value();
      const n = Number(v);
      if (!Number.isSafeInteger(n)) throw new Error(`${flag} needs an integer, got ${v}`);
      return n;
    };
    const json = (): unknown => {
      const v = value();
      try {
        return JSON.parse(v);
      } catch (error) {
        throw new Error(`${flag} needs JSON (as a failure prints it): ${String(error)}`);
      }
    };
    if (flag in raftOnlyFaults) {
      only(flag, 'raft-only');
      faults[raftOnlyFaults[flag] ?? ''] = 0;
      continue;
    }
    if (flag in raftOnlyNetwork) {
      only(flag, 'raft-only');
      network[raftOnlyNetwork[flag] ?? ''] = 0;
      continue;
    }
    switch (flag) {
      case '--raft-only':
        break;
      case '--seed':
        seed = int();
        break;
      case '--runs':
        runs = int();
        break;
      case '--from':
        from = int();
        break;
      case '--trace':
        trace = true;
        break;
      case '--max-failures':
        maxFailures = int();
        break;
      case '--nodes': {
        const n = int();
        if (raftOnly && n !== 3 && n !== 5) throw new Error('--nodes must be 3 or 5');
        if (n < 1) throw new Error(`--nodes must be at least 1, got ${n}`);
        raft = {...raft, nodes: n};
        member = {...member, members: n};
        break;
      }
      case '--no-crash':
        faults.crash = 0;
        member = {...member, crash: false};
        break;
      case '--no-crash-all':
        faults.crashAll = 0;
        member = {...member, crashAll: false};
        break;
      case '--no-partition':
        faults.partition = 0;
        member = {...member, partition: false};
        break;
      case '--no-leader-cuts':
        faults.leaderCuts = 0;
        member = {...member, leaderCutProbability: 0};
        break;
      case '--leader-cuts':
        faults.leaderCuts = 1;
        member = {...member, leaderCutProbability: 1};
        break;
      case '--bug': {
        const name = value();
        if (raftOnly) {
          const key = raftOnlyBugs[name];
          if (key === undefined) {
            throw new Error(
              `unknown --bug ${name}: the raft-only model knows ${Object.keys(raftOnlyBugs).join(', ')}`,
            );
          }
          raftBugs[key] = true;
        } else {
          if (!isInjectedBug(name)) {
            throw new Error(`unknown --bug ${name}: real members know ${injectedBugs.join(', ')}`);
          }
          memberBugs.push(name);
        }
        break;
      }
      case '--options':
        only(flag, 'raft-only');
        raftExact = json() as SimOptions;
        break;
      case '--steps':
        only(flag, 'raft-only');
        raft = {...raft, durationMs: int() * 10};
        break;
      case '--silent-loss':
        only(flag, 'raft-only');
        raft = {...raft, reportLoss: false};
        break;
      case '--member-options':
        only(flag, 'members');
        memberExact = json() as MemberSimOptions;
        break;
      case '--fault-ms':
        only(flag, 'members');
        member = {...member, faultMs: int()};
        break;
      case '--no-network-faults':
        only(flag, 'members');
        member = {...member, networkFaults: false};
        break;
      default:
        throw new Error(`unknown argument ${flag} (try --help)`);
    }
  }
  return {
    raftOnly,
    seed,
    runs,
    from,
    trace,
    maxFailures,
    raftExact,
    memberExact,
    raftOverrides: {...raft, faults, network, bugs: raftBugs},
    memberOverrides: memberBugs.length > 0 ? {...member, bugs: memberBugs} : member,
  };
}
