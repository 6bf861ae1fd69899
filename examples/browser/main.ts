// The main job in a browser page: trains examples/char-model.ts's character transformer on
// examples/data/corpus.txt in the page: GPU.js webgl2 by default; webgl, webasm, cpu, or gpugrad's WebAssembly SIMD
// backend (simd) on request.
// Start/Stop runs one training step per task (the same trainStep as the Node script, inside tidy()),
// so the page stays responsive; it shows step, loss, tokens/s, the mode GPU.js really runs and its
// renderer, the loss curve, a greedy sample when training stops, and downloads a .safetensors
// checkpoint in the Node script's layout (`npm run train -- --resume` continues from it).
//
//   npm run train:browser     # bundles this file with esbuild and serves examples/browser on 127.0.0.1:8080
//
// globalThis.charTransformerPage.state() reports what the page shows (test/browser-train.test.ts reads it).
import { backendInfo, getBackend, manualSeed, memory, nn, setBackend, type BackendName, type Tensor } from '../../src/index.js';
import {
  BATCH,
  CONTEXT,
  CharTransformer,
  D_MODEL,
  HEADS,
  LAYERS,
  SEED,
  TOKENS_PER_STEP,
  buildVocab,
  checkpointTensors,
  evalLoss,
  generate,
  makeOptimizer,
  splitIds,
  trainStep,
  type Vocab,
} from '../char-model.js';
import { lossPlotSvg } from '../plot.js';

export type PageStatus = 'loading' | 'ready' | 'running' | 'stopped' | 'done' | 'error';

export interface PageState {
  status: PageStatus;
  /** The mode picked in the page. */
  requested: string;
  /** getBackend(): the mode GPU.js really runs (it falls back silently). */
  backend: string | null;
  /** backendInfo().renderer: the GL renderer, null for cpu/webasm. */
  renderer: string | null;
  step: number;
  totalSteps: number;
  losses: number[];
  /** Validation losses (the corpus's last 10%, in eval mode without a graph), every VAL_EVERY steps and at the end. */
  valLosses: { step: number; loss: number }[];
  /** Tokens per second over the whole run (time spent in training steps only). */
  tokensPerSec: number | null;
  /** Tokens per second over the last RECENT steps (kernels compiled by then). */
  recentTokensPerSec: number | null;
  sample: string | null;
  /** Milliseconds the last sample took to generate. */
  sampleMs: number | null;
  error: string | null;
  corpusChars: number;
  vocabSize: number;
  parameters: number;
  memory: { tensors: number; storages: number; textures: number } | null;
  /** backendInfo(): kernels compiled so far on this mode, and kernels in gpugrad's cache. */
  kernels: { compiles: number; cached: number } | null;
  /** crossOriginIsolated (the dev server sends COOP/COEP): the simd backend may use Web Workers then */
  isolated: boolean;
  /** backendInfo() on simd: threads, workers started, matrix-product items the workers ran; null on other modes */
  simdThreads: { threads: number; workersStarted: number; workerItems: number } | null;
}

const SAMPLE_PROMPT = 'the ';
const SAMPLE_LENGTH = 80;
const RECENT = 10;
/** The validation loss is measured every this many steps (and at the last). */
const VAL_EVERY = 10;

const $ = <T extends HTMLElement>(id: string): T => {
  const el = document.getElementById(id);
  if (!el) throw new Error(`examples/browser/index.html has no #${id}`);
  return el as T;
};
const ui = {
  mode: $<HTMLSelectElement>('mode'),
  steps: $<HTMLInputElement>('steps'),
  start: $<HTMLButtonElement>('start'),
  download: $<HTMLButtonElement>('download'),
  step: $('step'),
  loss: $('loss'),
  tps: $('tps'),
  backend: $('backend'),
  renderer: $('renderer'),
  model: $('model'),
  status: $('status'),
  error: $('error'),
  chart: $('chart'),
  sample: $('sample'),
};

interface Run {
  model: CharTransformer;
  optimizer: ReturnType<typeof makeOptimizer>['optimizer'];
  scheduler: ReturnType<typeof makeOptimizer>['scheduler'];
  totalSteps: number;
  step: number;
  losses: number[];
  /** Milliseconds spent inside each training step. */
  stepMs: number[];
  /** An error stopped it: the next Start begins a new run. */
  failed: boolean;
}

const state: PageState = {
  status: 'loading',
  requested: ui.mode.value,
  backend: null,
  renderer: null,
  step: 0,
  totalSteps: 0,
  losses: [],
  valLosses: [],
  tokensPerSec: null,
  recentTokensPerSec: null,
  sample: null,
  sampleMs: null,
  error: null,
  corpusChars: 0,
  vocabSize: 0,
  parameters: 0,
  memory: null,
  kernels: null,
  isolated: globalThis.crossOriginIsolated === true,
  simdThreads: null,
};

let vocab: Vocab | null = null;
let run: Run | null = null;
/** True from Start until the run's sample is shown (training, then sampling). */
let running = false;
let sampling = false;
let stopRequested = false;

function setStatus(status: PageStatus, text: string): void {
  state.status = status;
  ui.status.textContent = text;
  ui.status.classList.toggle('warn', status === 'error');
}

function showError(e: unknown): void {
  const err = e instanceof Error ? e : new Error(String(e));
  state.error = `${err.name}: ${err.message}`;
  ui.error.hidden = false;
  // a known limit, worth saying in words: V8 in Chromium holds ~125 WebAssembly memories at once (each
  // reserves ~8 GB of address space in its 1 TB sandbox) and GPU.js's webasm mode makes one per kernel
  const hint = /WebAssembly\.Memory\(\): could not allocate memory/.test(err.message)
    ? '\nChromium caps how many WebAssembly memories a page holds at once (about 125), and GPU.js webasm makes one per kernel: this model needs about 200 kernels. Pick webgl2, webgl, simd (one WebAssembly memory for all its kernels) or cpu.'
    : '';
  ui.error.textContent = `${state.error}${hint}${err.stack ? `\n${err.stack.split('\n').slice(1, 6).join('\n')}` : ''}`;
  setStatus('error', 'stopped by an error (below)');
  console.error(err);
}

/** Switches GPU.js to the mode picked in the page and shows what really runs. */
function applyBackend(): void {
  const requested = ui.mode.value as BackendName;
  state.requested = requested;
  setBackend(requested);
  const info = backendInfo();
  state.backend = getBackend();
  state.renderer = info.renderer;
  const fellBack = state.backend !== requested;
  ui.backend.textContent = state.backend;
  ui.backend.classList.toggle('warn', fellBack);
  ui.backend.title = fellBack ? `asked for ${requested}: GPU.js fell back to ${state.backend}` : '';
  ui.renderer.textContent =
    info.renderer ??
    (state.backend === 'simd'
      ? `none (simd runs on the CPU: ${info.simd} WebAssembly SIMD, ${info.threads} thread${info.threads === 1 ? '' : 's'}${globalThis.crossOriginIsolated === true ? '' : ', the page is not cross-origin isolated'})`
      : state.backend === 'cpu' || state.backend === 'webasm'
        ? `none (${state.backend} runs on the CPU)`
        : 'unknown');
  if (fellBack) ui.renderer.textContent += ` — asked for ${requested}, GPU.js fell back to ${state.backend}`;
}

/** Frees a finished run's tensors (textures on the GL modes) before a new run or another mode. */
function discardRun(): void {
  if (!run) return;
  const tensors = new Set<Tensor>();
  for (const p of run.model.parameters()) {
    tensors.add(p);
    if (p.grad) tensors.add(p.grad);
  }
  for (const st of Object.values(run.optimizer.stateDict().state))
    for (const v of Object.values(st)) if (typeof v === 'object' && v !== null) tensors.add(v as Tensor);
  for (const t of tensors) t.dispose();
  run = null;
}

function newRun(totalSteps: number): Run {
  discardRun();
  applyBackend();
  manualSeed(SEED);
  const model = new CharTransformer(vocab!.chars.length);
  const { optimizer, scheduler } = makeOptimizer(model, totalSteps);
  state.parameters = model.parameters().reduce((n, p) => n + p.numel(), 0);
  showModel();
  state.losses = [];
  state.valLosses = [];
  state.step = 0;
  state.totalSteps = totalSteps;
  state.tokensPerSec = null;
  state.recentTokensPerSec = null;
  state.sample = null;
  state.sampleMs = null;
  state.error = null;
  ui.error.hidden = true;
  ui.sample.textContent = '–';
  ui.sample.classList.add('muted');
  return { model, optimizer, scheduler, totalSteps, step: 0, losses: state.losses, stepMs: [], failed: false };
}

function showModel(): void {
  const v = vocab!;
  const params = state.parameters ? `; ${state.parameters.toLocaleString('en')} parameters` : '';
  ui.model.textContent = `${LAYERS} layers, d_model ${D_MODEL}, ${HEADS} heads, context ${CONTEXT}, batch ${BATCH}${params}; vocab ${v.chars.length} from ${state.corpusChars.toLocaleString('en')} chars`;
}

function fmtRate(r: number | null): string {
  return r === null ? '–' : r >= 100 ? r.toFixed(0) : r.toPrecision(3);
}

function render(): void {
  ui.step.textContent = run ? `${run.step} / ${run.totalSteps}` : '–';
  const last = run?.losses.at(-1);
  ui.loss.textContent = last === undefined ? '–' : last.toFixed(4);
  // over the whole run (the first step compiles the kernels), and over the last RECENT steps
  ui.tps.textContent =
    fmtRate(state.tokensPerSec) + (run && run.step > RECENT ? ` (last ${RECENT}: ${fmtRate(state.recentTokensPerSec)})` : '');
  ui.download.disabled = !run || running || run.step === 0;
  ui.start.disabled = !vocab || sampling;
  ui.start.textContent = sampling
    ? 'Sampling…'
    : running
      ? 'Stop'
      : run && !run.failed && run.step > 0 && run.step < run.totalSteps && !settingsChanged()
        ? 'Resume'
        : 'Start';
  ui.mode.disabled = running;
  ui.steps.disabled = running;
  drawChart();
}

function settingsChanged(): boolean {
  return !!run && (Number(ui.steps.value) !== run.totalSteps || ui.mode.value !== state.requested);
}

/** The loss plot: the same SVG as the Node script's loss.svg (examples/plot.ts), train and validation curves. */
function drawChart(): void {
  const losses = run?.losses ?? [];
  const val = new Map(state.valLosses.map((v) => [v.step, v.loss]));
  const points = losses.map((loss, i) => ({ step: i + 1, loss, val: val.get(i + 1) ?? null }));
  ui.chart.innerHTML = lossPlotSvg(points, losses.length ? 'char transformer' : 'char transformer (press Start)');
}

/** Resolves after the next frame is painted (or after 100 ms where no frames come, as in a hidden tab). */
function paint(): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, 100);
    requestAnimationFrame(() => {
      clearTimeout(timer);
      // rAF runs just before the paint; the message task after it runs once the frame is out
      const ch = new MessageChannel();
      ch.port1.onmessage = () => resolve();
      ch.port2.postMessage(null);
    });
  });
}

function updateRates(r: Run): void {
  const total = r.stepMs.reduce((a, b) => a + b, 0);
  state.tokensPerSec = total > 0 ? (r.step * TOKENS_PER_STEP) / (total / 1000) : null;
  const recent = r.stepMs.slice(-RECENT);
  const recentMs = recent.reduce((a, b) => a + b, 0);
  state.recentTokensPerSec = recentMs > 0 ? (recent.length * TOKENS_PER_STEP) / (recentMs / 1000) : null;
}

async function showSample(r: Run): Promise<void> {
  ui.sample.textContent = 'generating…';
  await paint();
  const t = performance.now();
  state.sample = generate(r.model, vocab!, SAMPLE_PROMPT, SAMPLE_LENGTH, { fixedLength: true });
  state.sampleMs = performance.now() - t;
  ui.sample.textContent = state.sample;
  ui.sample.classList.remove('muted');
}

async function trainLoop(): Promise<void> {
  const totalSteps = Math.max(1, Math.floor(Number(ui.steps.value) || 1));
  if (!run || run.failed || run.step >= run.totalSteps || settingsChanged()) run = newRun(totalSteps);
  const r = run;
  running = true;
  stopRequested = false;
  render();
  try {
    if (r.step === 0) {
      setStatus('running', `step 1 compiles the kernels on ${state.backend}…`);
      await paint();
    }
    while (!stopRequested && r.step < r.totalSteps) {
      const t = performance.now();
      const loss = trainStep(r.model, r.optimizer, splitIds(vocab!.ids).train);
      r.scheduler.step();
      r.stepMs.push(performance.now() - t);
      r.step++;
      r.losses.push(loss);
      state.step = r.step;
      updateRates(r);
      if (!Number.isFinite(loss)) throw new Error(`the loss is ${loss} at step ${r.step}`);
      if (r.step % VAL_EVERY === 0 || r.step === r.totalSteps)
        state.valLosses.push({ step: r.step, loss: evalLoss(r.model, splitIds(vocab!.ids).val, 1, BATCH) });
      setStatus('running', `training on ${state.backend}: lr ${r.optimizer.paramGroups[0].lr.toExponential(2)}`);
      render();
      // let the page paint and take input (the Stop button) between steps
      await paint();
    }
    sampling = true;
    render();
    setStatus('running', 'generating a sample…');
    await showSample(r);
    state.memory = memory();
    const info = backendInfo();
    state.kernels = { compiles: info.compiles, cached: info.cachedKernels };
    state.simdThreads =
      state.backend === 'simd' ? { threads: info.threads, workersStarted: info.workersStarted, workerItems: info.workerItems } : null;
    const finished = r.step >= r.totalSteps;
    const secs = r.stepMs.reduce((a, b) => a + b, 0) / 1000;
    setStatus(
      finished ? 'done' : 'stopped',
      `${finished ? 'done' : 'stopped'} after ${r.step} steps (${secs.toFixed(1)} s in training steps, sample ${(state.sampleMs! / 1000).toFixed(1)} s)${finished ? '' : '; Resume continues'}`,
    );
  } catch (e) {
    r.failed = true;
    showError(e);
  } finally {
    running = false;
    sampling = false;
    stopRequested = false;
    render();
  }
}

function download(): void {
  if (!run) return;
  try {
    const { tensors, metadata } = checkpointTensors(run.model, run.optimizer, run.step);
    const bytes = nn.serializeSafetensors(tensors, metadata);
    const url = URL.createObjectURL(new Blob([bytes as Uint8Array<ArrayBuffer>], { type: 'application/octet-stream' }));
    const a = document.createElement('a');
    a.href = url;
    a.download = `char-transformer-step${run.step}.safetensors`;
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
  } catch (e) {
    showError(e);
  }
}

ui.start.addEventListener('click', () => {
  if (sampling) return;
  if (running) stopRequested = true;
  else void trainLoop();
});
ui.download.addEventListener('click', download);
ui.mode.addEventListener('change', () => {
  try {
    discardRun();
    applyBackend();
    state.error = null;
    ui.error.hidden = true;
    setStatus('ready', `ready on ${state.backend}`);
  } catch (e) {
    showError(e);
  }
  render();
});
ui.steps.addEventListener('input', () => render());
window.addEventListener('error', (e) => showError(e.error ?? e.message));
window.addEventListener('unhandledrejection', (e) => showError(e.reason));

declare global {
  var charTransformerPage: { state(): PageState };
}
globalThis.charTransformerPage = { state: () => structuredClone(state) };

async function init(): Promise<void> {
  render();
  const res = await fetch('data/corpus.txt');
  if (!res.ok) throw new Error(`fetching data/corpus.txt: HTTP ${res.status}`);
  const text = await res.text();
  vocab = buildVocab(text);
  state.corpusChars = text.length;
  state.vocabSize = vocab.chars.length;
  showModel();
  applyBackend();
  setStatus('ready', `ready on ${state.backend}: press Start`);
  render();
}

init().catch(showError);
