// One seeded generator for everything random: rand/randn/randint, parameter init and dropout masks.
// xoshiro128** seeded through splitmix32; normals by Box-Muller in float64. Values are drawn on the
// host, so a seed gives the same numbers on every GPU.js mode and in float32 and float64.

let s0 = 0;
let s1 = 0;
let s2 = 0;
let s3 = 0;
let spare: number | null = null;

function splitmix32(seed: number): () => number {
  let x = seed >>> 0;
  return () => {
    x = (x + 0x9e3779b9) >>> 0;
    let z = x;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
}

/** Seeds the generator (like `torch.manual_seed`). */
export function manualSeed(seed: number): void {
  if (!Number.isFinite(seed)) throw new Error(`manualSeed: seed must be a finite number, got ${seed}`);
  const lo = Math.floor(seed) >>> 0;
  const hi = Math.floor(seed / 4294967296) >>> 0;
  const sm = splitmix32(lo ^ Math.imul(hi, 0x27d4eb2d));
  s0 = sm();
  s1 = sm();
  s2 = sm();
  s3 = sm();
  if ((s0 | s1 | s2 | s3) === 0) s0 = 1;
  spare = null;
}

manualSeed(Date.now());

function nextU32(): number {
  const result = Math.imul(rotl(Math.imul(s1, 5), 7), 9) >>> 0;
  const t = s1 << 9;
  s2 ^= s0;
  s3 ^= s1;
  s1 ^= s2;
  s0 ^= s3;
  s2 ^= t;
  s3 = rotl(s3, 11);
  return result;
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/** Uniform in [0, 1) with 53 random bits. */
export function uniform(): number {
  const hi = nextU32() >>> 5; // 27 bits
  const lo = nextU32() >>> 6; // 26 bits
  return (hi * 67108864 + lo) / 9007199254740992;
}

export function normal(): number {
  if (spare !== null) {
    const v = spare;
    spare = null;
    return v;
  }
  let u = 0;
  while (u === 0) u = uniform();
  const v = uniform();
  const r = Math.sqrt(-2 * Math.log(u));
  spare = r * Math.sin(2 * Math.PI * v);
  return r * Math.cos(2 * Math.PI * v);
}

/** Integer uniform in [low, high). */
export function randInt(low: number, high: number): number {
  return low + Math.floor(uniform() * (high - low));
}

/** The generator's state, to save and restore (like `torch.get_rng_state`). */
export function getRngState(): number[] {
  return [s0, s1, s2, s3, spare ?? NaN];
}

export function setRngState(state: number[]): void {
  if (!Array.isArray(state) || state.length !== 5) throw new Error('setRngState: expected the 5-number array that getRngState() returned');
  [s0, s1, s2, s3] = state.map((v) => v >>> 0);
  spare = Number.isNaN(state[4]) ? null : state[4];
}
