/**
 * The steps of one client request, as etcd's `traceutil.Trace` records them: a handler marks
 * each stage as it ends (`traceStep(context, 'agreement among raft nodes before linearized
 * reading')`), and the {@link SlowRequestLog} prints them when the request was slow.
 *
 * A trace is found by the request's call context, in a WeakMap: nothing is carried through
 * async hooks (Node's AsyncLocalStorage would turn on promise hooks for every promise of the
 * process), and a request that is not traced costs one failed map lookup per step.
 */
export class RequestTrace {
  readonly steps: {readonly name: string; readonly atMs: number}[] = [];

  constructor(
    readonly operation: string,
    readonly startedMs: number,
    private readonly now: () => number,
  ) {}

  step(name: string): void {
    this.steps.push({name, atMs: this.now()});
  }
}

const traces = new WeakMap<object, RequestTrace>();

/** Makes `trace` the trace of the request whose call context is `context`. */
export function traceRequest(context: object, trace: RequestTrace): void {
  traces.set(context, trace);
}

/** Marks the end of a stage of the request of `context`, if it is traced. */
export function traceStep(context: object, name: string): void {
  traces.get(context)?.step(name);
}
