import 'uplot/dist/uPlot.min.css';

import {useEffect, useRef, useState} from 'preact/hooks';
import uPlot from 'uplot';

import type {EtcdGateway} from '../etcd-gateway.js';
import type {Histogram, Sample} from '../prometheus-text.js';
import {
  histogramDelta,
  histogramOf,
  histogramQuantile,
  parsePrometheusText,
  sumOf,
} from '../prometheus-text.js';
import {ErrorBox} from '../ui.js';

/** One scrape a second, two minutes kept. */
const scrapeIntervalMs = 1000;
const pointsKept = 120;

/** The series drawn: each a function of two consecutive scrapes. */
interface Point {
  readonly timeS: number;
  readonly requestsPerS: number | null;
  readonly failedPerS: number | null;
  readonly proposalsPerS: number | null;
  readonly latencyP50Ms: number | null;
  readonly latencyP99Ms: number | null;
  readonly fsyncP99Ms: number | null;
  readonly fsyncMeanMs: number | null;
  readonly commitP99Ms: number | null;
}

interface Scrape {
  readonly timeMs: number;
  readonly samples: readonly Sample[];
}

const handled = 'grpc_server_handled_total';
const latency = 'grpc_server_handling_seconds';
const walFsync = 'etcd_disk_wal_fsync_duration_seconds';
const backendCommit = 'etcd_disk_backend_commit_duration_seconds';
const committed = 'etcd_server_proposals_committed_total';

function rate(
  later: Scrape,
  earlier: Scrape,
  value: (s: readonly Sample[]) => number | undefined,
): number | null {
  const a = value(later.samples);
  const b = value(earlier.samples);
  const seconds = (later.timeMs - earlier.timeMs) / 1000;
  if (a === undefined || b === undefined || seconds <= 0) return null;
  // A counter that went down means the member restarted: no rate for that interval.
  return a < b ? null : (a - b) / seconds;
}

function quantileMs(
  q: number,
  later: Histogram | undefined,
  earlier: Histogram | undefined,
): number | null {
  if (later === undefined) return null;
  const value = histogramQuantile(q, histogramDelta(later, earlier));
  return value === undefined ? null : value * 1000;
}

function pointOf(later: Scrape, earlier: Scrape): Point {
  const histograms = (name: string) =>
    [histogramOf(later.samples, name), histogramOf(earlier.samples, name)] as const;
  const [latencyNow, latencyThen] = histograms(latency);
  const [fsyncNow, fsyncThen] = histograms(walFsync);
  const [commitNow, commitThen] = histograms(backendCommit);
  const fsyncDelta = fsyncNow === undefined ? undefined : histogramDelta(fsyncNow, fsyncThen);
  return {
    timeS: later.timeMs / 1000,
    requestsPerS: rate(later, earlier, s => sumOf(s, handled)),
    failedPerS: rate(later, earlier, s => {
      const all = sumOf(s, handled);
      const ok = sumOf(s, handled, {grpc_code: 'OK'}) ?? 0;
      return all === undefined ? undefined : all - ok;
    }),
    proposalsPerS: rate(later, earlier, s => sumOf(s, committed)),
    latencyP50Ms: quantileMs(0.5, latencyNow, latencyThen),
    latencyP99Ms: quantileMs(0.99, latencyNow, latencyThen),
    fsyncP99Ms: quantileMs(0.99, fsyncNow, fsyncThen),
    fsyncMeanMs:
      fsyncDelta === undefined || fsyncDelta.count <= 0
        ? null
        : (fsyncDelta.sum / fsyncDelta.count) * 1000,
    commitP99Ms: quantileMs(0.99, commitNow, commitThen),
  };
}

/** Live charts of the member's own `/metrics`: requests, latency, WAL fsync and backend commits. */
export function ChartsView({gateway}: {readonly gateway: EtcdGateway}) {
  const [points, setPoints] = useState<readonly Point[]>([]);
  const [names, setNames] = useState<ReadonlySet<string>>(new Set());
  const [error, setError] = useState<unknown>(undefined);
  useEffect(() => {
    const controller = new AbortController();
    let previous: Scrape | undefined;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const scrape = async () => {
      try {
        const samples = parsePrometheusText(await gateway.metrics(controller.signal));
        const now: Scrape = {timeMs: Date.now(), samples};
        if (previous !== undefined) {
          const point = pointOf(now, previous);
          setPoints(old => [...old, point].slice(-pointsKept));
        }
        previous = now;
        setNames(new Set(samples.map(s => s.name)));
        setError(undefined);
      } catch (e) {
        if (controller.signal.aborted) return;
        setError(e);
      }
      timer = setTimeout(() => void scrape(), scrapeIntervalMs);
    };
    void scrape();
    return () => {
      controller.abort();
      clearTimeout(timer);
    };
  }, [gateway]);
  const missing = (name: string) => !names.has(name) && !names.has(`${name}_count`);
  return (
    <div class="view">
      <ErrorBox error={error} />
      <p class="muted">From this member's /metrics, scraped every second; the last two minutes.</p>
      <div class="charts">
        <Chart
          title="Requests / s"
          points={points}
          series={[
            {label: 'handled', value: p => p.requestsPerS, stroke: '#2563eb'},
            {label: 'failed', value: p => p.failedPerS, stroke: '#dc2626'},
            {label: 'proposals committed', value: p => p.proposalsPerS, stroke: '#16a34a'},
          ]}
          absent={missing(handled) ? `${handled} is not exported by this member.` : undefined}
        />
        <Chart
          title="Request latency (ms)"
          points={points}
          series={[
            {label: 'p50', value: p => p.latencyP50Ms, stroke: '#2563eb'},
            {label: 'p99', value: p => p.latencyP99Ms, stroke: '#9333ea'},
          ]}
          absent={
            missing(latency)
              ? `${latency} is not exported by this member (etcd exports it with --metrics=extensive).`
              : undefined
          }
        />
        <Chart
          title="WAL fsync (ms)"
          points={points}
          series={[
            {label: 'p99', value: p => p.fsyncP99Ms, stroke: '#ea580c'},
            {label: 'mean', value: p => p.fsyncMeanMs, stroke: '#0891b2'},
          ]}
          absent={missing(walFsync) ? `${walFsync} is not exported by this member.` : undefined}
        />
        <Chart
          title="Backend commit (ms)"
          points={points}
          series={[{label: 'p99', value: p => p.commitP99Ms, stroke: '#ca8a04'}]}
          absent={
            missing(backendCommit) ? `${backendCommit} is not exported by this member.` : undefined
          }
        />
      </div>
    </div>
  );
}

interface SeriesSpec {
  readonly label: string;
  readonly value: (point: Point) => number | null;
  readonly stroke: string;
}

function Chart(props: {
  readonly title: string;
  readonly points: readonly Point[];
  readonly series: readonly SeriesSpec[];
  readonly absent: string | undefined;
}) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | undefined>(undefined);
  const data = (): uPlot.AlignedData => [
    props.points.map(p => p.timeS),
    ...props.series.map(s => props.points.map(p => s.value(p))),
  ];
  useEffect(() => {
    const element = box.current;
    if (element === null || props.absent !== undefined) return;
    const chart = new uPlot(
      {
        width: Math.max(element.clientWidth, 280),
        height: 180,
        legend: {live: false},
        scales: {y: {range: (_u, _min, max) => [0, Math.max(max, 1)]}},
        series: [
          {},
          ...props.series.map(s => ({
            label: s.label,
            stroke: s.stroke,
            width: 1.5,
            spanGaps: false,
          })),
        ],
        axes: [{}, {size: 50}],
      },
      data(),
      element,
    );
    plot.current = chart;
    const resize = new ResizeObserver(() => {
      chart.setSize({width: Math.max(element.clientWidth, 280), height: 180});
    });
    resize.observe(element);
    return () => {
      resize.disconnect();
      chart.destroy();
      plot.current = undefined;
    };
    // The chart is made once; new points arrive through setData below.
  }, [props.absent]);
  useEffect(() => {
    plot.current?.setData(data());
  });
  return (
    <figure class="chart" data-testid="chart">
      <figcaption>{props.title}</figcaption>
      {props.absent === undefined ? <div ref={box} /> : <p class="muted">{props.absent}</p>}
    </figure>
  );
}
