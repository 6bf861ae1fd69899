// The SIMD provider's worker pool: worker threads (Node's worker_threads, or a cross-origin isolated
// page's Web Workers) that share the provider's WebAssembly memory and its compiled GEMM module, and take
// work items (row blocks of batch matrices) from a shared counter with the calling thread, which waits
// until every item is done, so the API stays synchronous: on Atomics.wait in Node and in a worker, by
// spinning on Atomics.load on a page's main thread (which may not block). The items are handed out one
// at a time, so a worker whose core is busy elsewhere (this machine is shared) holds back at most the
// one item it is on: the caller takes every other one.
//
// The control block (Int32Array over a SharedArrayBuffer) is a sequence lock: SEQ is odd while the
// caller writes a job and even once it is ready; a worker counts itself in ACTIVE before it looks at a
// job and out when it is done with it, and the caller writes a new job only when ACTIVE is 0 with SEQ odd
// (no worker can then be reading the old one or start on the half-written new one).
//
// A browser worker starts asynchronously (it gets the module and memory by postMessage): until it is
// running it takes no items and the caller does them all, so a pool is correct from its first job on.

const SEQ = 0;
const NEXT = 1;
const ACTIVE = 2;
/** job words: items, fn (0 gemm, 1 gemmTA), M, N, K, alpha (float bits), bias, rows per item, blocks per matrix, then A, B, C base and per-matrix stride (bytes) */
const ITEMS = 3;
/** items run by workers (not the caller), for tests and backendInfo */
const BY_WORKERS = 18;
/** workers running (counted in once they have instantiated the module) */
const STARTED = 19;
const JOB_WORDS = 20;

/** The worker's job loop: `k` is its instance of the gemm module, `ctrl`/`f32` views of the control block. */
const WORKER_LOOP = `
const fns = [k.gemm, k.gemmTA];
Atomics.add(ctrl, ${STARTED}, 1);
let done = 0;
for (;;) {
  const s = Atomics.load(ctrl, ${SEQ});
  if (s === done || (s & 1) === 1) {
    Atomics.wait(ctrl, ${SEQ}, s);
    continue;
  }
  Atomics.add(ctrl, ${ACTIVE}, 1);
  if (Atomics.load(ctrl, ${SEQ}) === s) {
    const items = ctrl[${ITEMS}], fn = fns[ctrl[4]], M = ctrl[5], N = ctrl[6], K = ctrl[7], alpha = f32[8], bias = ctrl[9];
    const rows = ctrl[10], blocks = ctrl[11], a = ctrl[12], as = ctrl[13], b = ctrl[14], bs = ctrl[15], c = ctrl[16], cs = ctrl[17];
    let mine = 0;
    for (let it = Atomics.add(ctrl, ${NEXT}, 1); it < items; it = Atomics.add(ctrl, ${NEXT}, 1)) {
      const t = (it / blocks) | 0, i0 = (it - t * blocks) * rows;
      fn(a + t * as, b + t * bs, c + t * cs, M, N, K, alpha, bias, i0, Math.min(M, i0 + rows));
      mine++;
    }
    if (mine) Atomics.add(ctrl, ${BY_WORKERS}, mine);
  }
  done = s;
  Atomics.sub(ctrl, ${ACTIVE}, 1);
  Atomics.notify(ctrl, ${ACTIVE});
}
`;

/** Node: a worker_threads source (run with `eval: true`) that gets the module, memory and control block as workerData. */
const NODE_WORKER_SOURCE = `
const { workerData } = require('node:worker_threads');
const { module, memory, control } = workerData;
const ctrl = new Int32Array(control);
const f32 = new Float32Array(control);
const k = new WebAssembly.Instance(module, { env: { memory } }).exports;
${WORKER_LOOP}`;

/** Browser: a Web Worker source that gets them in its first message. */
const WEB_WORKER_SOURCE = `
self.onmessage = (e) => {
  self.onmessage = null;
  const { module, memory, control } = e.data;
  const ctrl = new Int32Array(control);
  const f32 = new Float32Array(control);
  const k = new WebAssembly.Instance(module, { env: { memory } }).exports;
  ${WORKER_LOOP}
};`;

/** A GEMM export of the gemm module (gemm.wat): pointers, sizes, alpha, the bias pointer (-1: none), rows [i0, i1). */
export type GemmFn = (
  a: number,
  b: number,
  c: number,
  M: number,
  N: number,
  K: number,
  alpha: number,
  bias: number,
  i0: number,
  i1: number,
) => void;

export interface GemmJob {
  transA: boolean;
  M: number;
  N: number;
  K: number;
  alpha: number;
  /** bias pointer or -1 */
  bias: number;
  /** matrices in the batch */
  count: number;
  a: number;
  aStride: number;
  b: number;
  bStride: number;
  c: number;
  cStride: number;
}

/** What the pool needs of a worker: Node's Worker or a page's Web Worker. */
interface WorkerHandle {
  terminate(): unknown;
}
type NodeWorkerCtor = new (src: string, opts: { eval: true; workerData: unknown }) => WorkerHandle & { unref(): void };
type WebWorkerCtor = new (url: string, opts?: { name?: string }) => WorkerHandle & { postMessage(m: unknown): void };

interface Env {
  process?: { getBuiltinModule?: (id: string) => unknown };
  crossOriginIsolated?: boolean;
  Worker?: WebWorkerCtor;
  Blob?: new (parts: string[], opts: { type: string }) => unknown;
  URL?: { createObjectURL(b: unknown): string; revokeObjectURL(u: string): void };
}

/** Whether this thread may block on Atomics.wait (a page's main thread may not). */
function mayBlock(): boolean {
  try {
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 1, 0); // 'not-equal' at once where allowed
    return true;
  } catch {
    return false;
  }
}

/** Where a pool can run: Node's worker_threads, or Web Workers in a cross-origin isolated page (shared memory). */
export function workerThreadsAvailable(): boolean {
  const g = globalThis as Env;
  if (g.process?.getBuiltinModule?.('node:worker_threads')) return true;
  return g.crossOriginIsolated === true && typeof SharedArrayBuffer === 'function' && !!g.Worker && !!g.Blob && !!g.URL;
}

export class WorkerPool {
  private readonly ctrl: Int32Array;
  private readonly f32: Float32Array;
  private readonly workers: WorkerHandle[] = [];
  private readonly wait: (ctrl: Int32Array, at: number, value: number) => void;
  /** jobs run on the pool (for backendInfo and tests) */
  jobs = 0;

  private constructor(
    spawn: (data: { module: WebAssembly.Module; memory: WebAssembly.Memory; control: SharedArrayBuffer }) => WorkerHandle,
    module: WebAssembly.Module,
    memory: WebAssembly.Memory,
    readonly threads: number,
    private readonly fns: [GemmFn, GemmFn],
  ) {
    const control = new SharedArrayBuffer(4 * JOB_WORDS);
    this.ctrl = new Int32Array(control);
    this.f32 = new Float32Array(control);
    // a page's main thread spins (the wait is one worker's last item at most); everyone else sleeps
    this.wait = mayBlock()
      ? (c, at, v) => void Atomics.wait(c, at, v)
      : () => {
          /* spin: the caller's loop reloads the word */
        };
    for (let w = 0; w < threads - 1; w++) this.workers.push(spawn({ module, memory, control }));
  }

  /**
   * A pool of `threads` threads in all (the caller's included) over `memory`, or null where there are no
   * worker threads (a page that is not cross-origin isolated: the provider runs on one thread there) or
   * only one thread is asked for.
   */
  static create(module: WebAssembly.Module, memory: WebAssembly.Memory, threads: number, fns: [GemmFn, GemmFn]): WorkerPool | null {
    if (threads < 2 || !(memory.buffer instanceof SharedArrayBuffer)) return null;
    const g = globalThis as Env;
    const wt = g.process?.getBuiltinModule?.('node:worker_threads') as { Worker?: NodeWorkerCtor } | undefined;
    if (wt?.Worker) {
      const NodeWorker = wt.Worker;
      return new WorkerPool(
        (workerData) => {
          const worker = new NodeWorker(NODE_WORKER_SOURCE, { eval: true, workerData });
          worker.unref(); // an idle pool never keeps the process alive
          return worker;
        },
        module,
        memory,
        threads,
        fns,
      );
    }
    if (!workerThreadsAvailable()) return null;
    const { Worker: WebWorker, Blob: BlobCtor, URL: Url } = g as Required<Env>;
    const url = Url.createObjectURL(new BlobCtor([WEB_WORKER_SOURCE], { type: 'text/javascript' }));
    const pool = new WorkerPool(
      (data) => {
        const worker = new WebWorker(url, { name: 'gpugrad-simd' });
        worker.postMessage(data);
        return worker;
      },
      module,
      memory,
      threads,
      fns,
    );
    // a worker fetches its script asynchronously: the URL lives as long as the pool
    pool.onDestroy = () => Url.revokeObjectURL(url);
    return pool;
  }

  private onDestroy: (() => void) | null = null;

  /** Workers that have started serving jobs (a page's workers start asynchronously). */
  get started(): number {
    return Atomics.load(this.ctrl, STARTED);
  }

  /** Work items the workers (not the caller) have run so far. */
  get itemsByWorkers(): number {
    return Atomics.load(this.ctrl, BY_WORKERS);
  }

  /** Runs a batched GEMM over all threads; returns when every item is done. */
  gemm(j: GemmJob, rowsPerItem: number): void {
    const ctrl = this.ctrl;
    const blocks = Math.ceil(j.M / rowsPerItem);
    const items = blocks * j.count;
    // SEQ odd: writing; wait until no worker is inside the previous job
    Atomics.add(ctrl, SEQ, 1);
    for (let a = Atomics.load(ctrl, ACTIVE); a !== 0; a = Atomics.load(ctrl, ACTIVE)) this.wait(ctrl, ACTIVE, a);
    ctrl[ITEMS] = items;
    ctrl[4] = j.transA ? 1 : 0;
    ctrl[5] = j.M;
    ctrl[6] = j.N;
    ctrl[7] = j.K;
    this.f32[8] = j.alpha;
    ctrl[9] = j.bias;
    ctrl[10] = rowsPerItem;
    ctrl[11] = blocks;
    ctrl[12] = j.a;
    ctrl[13] = j.aStride;
    ctrl[14] = j.b;
    ctrl[15] = j.bStride;
    ctrl[16] = j.c;
    ctrl[17] = j.cStride;
    Atomics.store(ctrl, NEXT, 0);
    Atomics.add(ctrl, SEQ, 1); // even: ready
    Atomics.notify(ctrl, SEQ);
    const fn = this.fns[j.transA ? 1 : 0];
    for (let it = Atomics.add(ctrl, NEXT, 1); it < items; it = Atomics.add(ctrl, NEXT, 1)) {
      const t = Math.floor(it / blocks);
      const i0 = (it - t * blocks) * rowsPerItem;
      fn(
        j.a + t * j.aStride,
        j.b + t * j.bStride,
        j.c + t * j.cStride,
        j.M,
        j.N,
        j.K,
        j.alpha,
        j.bias,
        i0,
        Math.min(j.M, i0 + rowsPerItem),
      );
    }
    for (let a = Atomics.load(ctrl, ACTIVE); a !== 0; a = Atomics.load(ctrl, ACTIVE)) this.wait(ctrl, ACTIVE, a);
    this.jobs++;
  }

  destroy(): void {
    for (const w of this.workers) void w.terminate();
    this.workers.length = 0;
    this.onDestroy?.();
    this.onDestroy = null;
  }
}
