// The program test/bundle.test.ts bundles with esbuild `minify: true` (class names become single letters)
// and runs in Node and in headless Chromium. It exercises what breaks when a class name or function text
// carries meaning: tidy keeping a returned MaxResult's tensors, setBackend/getBackend detecting GPU.js's
// mode from its kernel classes, module reprs and optimizer errors, and one training step. Nothing here
// throws out of runProgram(): a thrown error is recorded in the report, which the Node side asserts on.
// No vitest here (it runs inside the bundle).

import gpujs from 'gpu.js';
import {
  F,
  MaxResult,
  getBackend,
  manualSeed,
  memory,
  nn,
  optim,
  randn,
  setBackend,
  tensor,
  tidy,
  type BackendName,
} from '../../src/index.js';

export interface MaxCheck {
  /** The result's class name: a minified bundle renames MaxResult. */
  className: string;
  isMaxResult: boolean;
  valuesAlive: boolean;
  indicesAlive: boolean;
  values: number[];
  indices: number[];
  /** Live tensors before tidy and after it (and after disposing what it returned): nothing leaks. */
  liveBefore: number;
  liveAfter: number;
}

export interface TrainCheck {
  lossBefore: number;
  lossAfter: number;
  paramsChanged: boolean;
  gradsAfterStep: boolean;
}

export interface ModeReport {
  requested: string;
  /** getBackend() after setBackend(requested). */
  backend: string;
  max: MaxCheck | null;
  train: TrainCheck | null;
  /** console.warn lines while this mode ran (gpugrad warns when GPU.js falls back). */
  warnings: string[];
  /** The first error thrown, with its message (the minified bundle's stack is not useful). */
  error: string | null;
}

export interface ProgramReport {
  /** Class names in the bundle: minified ones prove the bundle really renames classes. */
  classNames: { maxResult: string; linear: string; sgd: string; gpuCPUKernel: string; gpuWebGLKernel: string };
  repr: string;
  /** A user module that declares `static override readonly moduleName`: its repr keeps the name. */
  userRepr: string;
  /** An undeclared subclass of nn.Linear: its _getName() (the nearest declared name, never its class name). */
  subclassName: [string, string];
  reprError: string | null;
  optimizerErrors: string[];
  modes: ModeReport[];
}

function errText(e: unknown): string {
  return e instanceof Error ? `${e.name}: ${e.message}` : String(e);
}

function values(t: { toArray(): unknown }): number[] {
  return Array.from(t.toArray() as ArrayLike<number>, Number);
}

function checkMax(): MaxCheck {
  const x = tensor([
    [1, 5, 2],
    [7, 0, 3],
  ]);
  const liveBefore = memory().tensors;
  // x.mul(2) is a temporary tidy disposes; the MaxResult's values and indices must survive it
  const r = tidy(() => x.mul(2).max(1));
  const out: MaxCheck = {
    className: r.constructor.name,
    isMaxResult: r instanceof MaxResult,
    valuesAlive: !r.values.isDisposed,
    indicesAlive: !r.indices.isDisposed,
    values: r.values.isDisposed ? [] : values(r.values),
    indices: r.indices.isDisposed ? [] : values(r.indices),
    liveBefore,
    liveAfter: -1,
  };
  r.values.dispose();
  r.indices.dispose();
  out.liveAfter = memory().tensors;
  x.dispose();
  return out;
}

function checkTrain(): TrainCheck {
  manualSeed(0);
  const model = new nn.Linear(3, 1);
  const opt = new optim.Adam(model.parameters(), { lr: 0.1 });
  const x = randn([8, 3]);
  const y = randn([8, 1]);
  const before = model.parameters().map(values);
  const lossBefore = tidy(() => {
    const loss = F.mseLoss(model.forward(x), y);
    opt.zeroGrad();
    loss.backward();
    opt.step();
    return loss.item();
  });
  const gradsAfterStep = model.parameters().every((p) => p.grad !== null && !p.grad.isDisposed);
  const after = model.parameters().map(values);
  const lossAfter = tidy(() => F.mseLoss(model.forward(x), y).item());
  const paramsChanged = before.some((b, i) => b.some((v, j) => v !== after[i][j]));
  x.dispose();
  y.dispose();
  return { lossBefore, lossAfter, paramsChanged, gradsAfterStep };
}

class UserNet extends nn.Module {
  static override readonly moduleName = 'UserNet';
  fc = this.registerModule('fc', new nn.Linear(2, 1, { bias: false }));
}

class SubLinear extends nn.Linear {}

function runMode(mode: BackendName): ModeReport {
  const report: ModeReport = { requested: mode, backend: '', max: null, train: null, warnings: [], error: null };
  const warn = console.warn;
  console.warn = (...a: unknown[]) => void report.warnings.push(a.map(String).join(' '));
  try {
    setBackend(mode);
    report.backend = getBackend();
    report.max = checkMax();
    report.train = checkTrain();
  } catch (e) {
    report.error = errText(e);
  } finally {
    console.warn = warn;
  }
  return report;
}

/** Runs every check on each mode in turn; never throws. */
export function runProgram(modes: readonly string[]): ProgramReport {
  const g: any = (gpujs as any)?.GPU ? gpujs : (globalThis as any).GPU;
  const report: ProgramReport = {
    classNames: {
      maxResult: MaxResult.name,
      linear: nn.Linear.name,
      sgd: optim.SGD.name,
      gpuCPUKernel: String(g?.CPUKernel?.name),
      gpuWebGLKernel: String(g?.WebGLKernel?.name),
    },
    repr: '',
    userRepr: '',
    subclassName: ['', ''],
    reprError: null,
    optimizerErrors: [],
    modes: [],
  };
  try {
    report.repr = String(new nn.Sequential(new nn.Linear(2, 3), new nn.ReLU(), new nn.Dropout(0.25), new nn.LayerNorm(3)));
    report.userRepr = String(new UserNet());
    const sub = new SubLinear(1, 1);
    report.subclassName = [sub._getName(), 'Linear'];
  } catch (e) {
    report.reprError = errText(e);
  }
  for (const make of [() => new optim.SGD([]), () => new optim.Adam([]), () => new optim.AdamW([])]) {
    try {
      make();
      report.optimizerErrors.push('(no error)');
    } catch (e) {
      report.optimizerErrors.push((e as Error).message);
    }
  }
  for (const m of modes) report.modes.push(runMode(m as BackendName));
  return report;
}
