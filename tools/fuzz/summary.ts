import type {Outcome, OutcomeClass} from './classify.js';
import {describeOutcome, outcomeClasses} from './classify.js';
import type {FuzzReport, InputRecord} from './runner.js';

/** Classes that are differences worth listing by group. */
const differenceClasses = new Set<OutcomeClass>([
  'different status',
  'different message only',
  'Synod timed out',
  'etcd timed out',
  'etcd crashes',
  'Synod crashes',
]);

/** Difference classes whose every group the summary lists. */
const alwaysListed = new Set<OutcomeClass>(['Synod timed out', 'Synod crashes', 'etcd crashes']);

export interface SummaryOptions {
  /** e.g. "etcd 3.4.23", for the heading. */
  readonly etcdVersion?: string;
  /** Which Synod was run, e.g. "commit 3fa86a4", for the heading. */
  readonly synodVersion?: string;
  /** Examples per difference group, 3 by default. */
  readonly examples?: number;
  /**
   * Difference groups printed, most frequent first; 40 by default. Groups of Synod
   * timeouts and of crashes are printed whatever their rank.
   */
  readonly groups?: number;
}

function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const escape = (cell: string): string => cell.replace(/\|/g, '\\|').replace(/\n/g, ' ');
  const lines = [header, header.map(() => '---'), ...rows].map(
    row => `| ${row.map(escape).join(' | ')} |`,
  );
  return lines.join('\n');
}

function clip(text: string, width: number): string {
  return text.length > width ? `${text.slice(0, width - 1)}…` : text;
}

/**
 * The run's summary in Markdown: the totals, outcomes per method and class, safety
 * failures with their replay commands, and the difference groups with their first inputs.
 * Counts are exact; only the group list and the example texts are cut short.
 */
export function formatSummary(report: FuzzReport, options: SummaryOptions = {}): string {
  const records = report.records;
  const sent = records.filter(r => r.cls !== 'skipped');
  const against = report.withEtcd
    ? `${options.etcdVersion ?? 'etcd'} (1 member)`
    : 'no etcd (safety checks only)';
  const out: string[] = [];
  out.push(
    `## Fuzz run: seed ${report.seed}, Synod${options.synodVersion === undefined ? '' : ` (${options.synodVersion})`} ` +
      `with ${report.members} member${report.members === 1 ? '' : 's'} against ${against}`,
    '',
    `${records.length} inputs (indices ${records[0]?.index ?? 0}–${records.at(-1)?.index ?? 0}) in ${(report.elapsedMs / 1000).toFixed(1)} s: ` +
      `${sent.length} sent, ${records.length - sent.length} held back by the safety guard.`,
  );
  const kinds = new Map<string, number>();
  for (const r of records) kinds.set(r.kind, (kinds.get(r.kind) ?? 0) + 1);
  out.push(`By kind: ${[...kinds].map(([k, n]) => `${k} ${n}`).join(', ')}.`);
  const reasons = new Map<string, number>();
  for (const r of records)
    if (r.skipped !== undefined) reasons.set(r.skipped, (reasons.get(r.skipped) ?? 0) + 1);
  if (reasons.size > 0)
    out.push(`Held back: ${[...reasons].map(([k, n]) => `${k} ${n}`).join(', ')}.`);

  const used = outcomeClasses.filter(c => records.some(r => r.cls === c));
  const perMethod = new Map<string, Map<OutcomeClass, number>>();
  for (const r of records) {
    const counts = perMethod.get(r.label) ?? new Map<OutcomeClass, number>();
    counts.set(r.cls, (counts.get(r.cls) ?? 0) + 1);
    perMethod.set(r.label, counts);
  }
  const methodRows = [...perMethod]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([label, counts]) => [
      label,
      String([...counts.values()].reduce((a, b) => a + b, 0)),
      ...used.map(c => String(counts.get(c) ?? 0)),
    ]);
  const totals = [
    'total',
    String(records.length),
    ...used.map(c => String(records.filter(r => r.cls === c).length)),
  ];
  out.push(
    '',
    '### Outcomes per method',
    '',
    table(['method', 'inputs', ...used], [...methodRows, totals]),
  );

  out.push('', '### Safety failures', '');
  if (report.failures.length === 0) {
    out.push(
      'None: after every batch each member was running, /health was true, the canary keys were unchanged' +
        (report.members > 1 ? ' and HashKV agreed across members.' : '.'),
    );
  } else {
    for (const f of report.failures) {
      const where =
        f.firstIndex === f.lastIndex
          ? `input ${f.firstIndex}`
          : `inputs ${f.firstIndex}–${f.lastIndex}`;
      const input = records.find(r => r.index === f.firstIndex);
      out.push(
        `- ${f.server}, ${where}${input === undefined ? '' : ` (${input.label}, ${input.kind}: ${clip(input.what, 80)})`}: ` +
          `${clip(f.problem.split('\n')[0] ?? '', 160)}\n  replay: \`${f.replay}\``,
      );
    }
  }

  if (report.withEtcd) out.push('', ...differenceGroups(records, options));
  return out.join('\n');
}

/**
 * An outcome with what varies from input to input taken out (numbers, the method's own
 * name), so that "larger than max (4294967295 vs. 2097152)" on KV/Put and "larger than
 * max (1433745690 vs. 2097152)" on Auth/RoleGet fall into one group.
 */
function shape(record: InputRecord, outcome: Outcome | undefined): string {
  const [service, method] = record.label.split('/') as [string, string];
  return describeOutcome(outcome, Infinity)
    .split(`/${service}/${method}`)
    .join('<path>')
    .replace(new RegExp(`\\b${method}\\b`, 'g'), '<method>')
    .replace(new RegExp(`\\b${service}\\b`, 'g'), '<service>')
    .replace(/\d+/g, 'N');
}

function differenceGroups(records: readonly InputRecord[], options: SummaryOptions): string[] {
  const groups = new Map<string, InputRecord[]>();
  for (const r of records) {
    if (!differenceClasses.has(r.cls)) continue;
    const key = [r.cls, shape(r, r.etcd), shape(r, r.synod)].join('\u0000');
    const group = groups.get(key) ?? [];
    group.push(r);
    groups.set(key, group);
  }
  const sorted = [...groups.values()].sort(
    (a, b) => b.length - a.length || a[0]!.index - b[0]!.index,
  );
  // Crashes and hangs are listed whatever their rank; the rest by frequency, up to the limit.
  const limit = options.groups ?? 40;
  const shown = sorted.filter((g, i) => i < limit || alwaysListed.has(g[0]!.cls));
  const rows = shown.map((group, i) => {
    const first = group[0]!;
    const examples = group
      .slice(0, options.examples ?? 3)
      .map(r => `#${r.index} ${r.label} ${r.kind}: ${clip(r.what, 60)}`)
      .join('; ');
    const methods = [...new Set(group.map(r => r.label))];
    return [
      String(i + 1),
      first.cls,
      String(group.length),
      methods.length <= 3 ? methods.join(', ') : `${methods.length} methods`,
      describeOutcome(first.etcd, 70),
      describeOutcome(first.synod, 70),
      examples,
    ];
  });
  const lines = [
    '### Differences from etcd, grouped by class and both outcomes (most frequent first)',
    '',
    groups.size === 0
      ? 'None.'
      : table(
          [
            'group',
            'class',
            'inputs',
            'methods',
            'etcd (first input)',
            'Synod (first input)',
            'first inputs',
          ],
          rows,
        ),
  ];
  const rest = sorted.filter(g => !shown.includes(g));
  if (rest.length > 0) {
    lines.push(
      '',
      `… and ${rest.length} more groups with ${rest.reduce((n, g) => n + g.length, 0)} inputs.`,
    );
  }
  return lines;
}
