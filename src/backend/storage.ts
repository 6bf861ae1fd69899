// Storage: the one place tensor data lives. A host typed array, or (on the GL modes) a GPU.js texture
// that is read back only when data is asked for. Storages are reference counted by the tensors that
// view them; the last release deletes the texture.

export type HostArray = Float32Array | Float64Array | Int32Array | Uint8Array;

/** The part of a GPU.js texture the framework uses. */
export interface DeviceTexture {
  toArray(): unknown;
  delete(): void;
}

let liveStorages = 0;
let liveTextures = 0;
/** Texture readbacks (device to host copies) so far: a GL training step should make only those its user asks for. */
let readbacks = 0;

// A pool of float32 host arrays for kernel outputs on the host backends: a fresh multi-megabyte typed
// array costs its page faults again on first write (a 1 MB output took 0.5 ms here before any work), so
// the arrays of released storages are kept (by size, up to POOL_BYTES in all) and handed to the next
// output of that size. Only arrays this module allocated are pooled, never a user's data; data() and
// toArray() hand out copies, so nothing outside the framework holds a pooled array.
const POOL_MIN_ELEMENTS = 4096;
const POOL_BYTES = 64 * 1024 * 1024;
const pool = new Map<number, Float32Array[]>();
const pooled = new WeakSet<Float32Array>();
let poolBytes = 0;

/**
 * A float32 array of n elements for a kernel's output, from the pool where one of that size waits. Its
 * contents are stale: the caller writes every element.
 */
export function allocFloat32(n: number): Float32Array {
  if (n < POOL_MIN_ELEMENTS) return new Float32Array(n);
  const a = pool.get(n)?.pop();
  if (a) {
    poolBytes -= a.byteLength;
    return a;
  }
  const fresh = new Float32Array(n);
  pooled.add(fresh);
  return fresh;
}

function recycle(a: HostArray | null): void {
  if (!(a instanceof Float32Array) || !pooled.has(a) || poolBytes + a.byteLength > POOL_BYTES) return;
  const list = pool.get(a.length);
  if (list) list.push(a);
  else pool.set(a.length, [a]);
  poolBytes += a.byteLength;
}

/** Bytes held by the output pool (arrays of released storages waiting for reuse). */
export function pooledBytes(): number {
  return poolBytes;
}

/**
 * Safety net for textures whose storages the garbage collector took without a dispose(): the registry
 * holds only the texture (and its release callback), never the storage or host data, so host memory is
 * reclaimed by the collector alone (finalizers never run inside a synchronous loop; nothing may wait on them).
 */
interface HeldTexture {
  tex: DeviceTexture;
  done: (() => void) | null;
}
const textureFinalizer =
  typeof FinalizationRegistry !== 'undefined'
    ? new FinalizationRegistry<HeldTexture>((h) => {
        try {
          h.tex.delete();
        } catch {
          /* the context is gone */
        }
        liveTextures--;
        h.done?.();
      })
    : null;

export class Storage {
  /** Host copy (always present for host-resident data; a cache of the readback for textures). */
  private hostData: HostArray | null;
  private tex: DeviceTexture | null;
  private f32: Float32Array | null = null;
  private f64: Float64Array | null = null;
  private refs = 0;
  private released = false;

  /** Called once the texture is deleted (the kernel cache keeps the producing kernel alive until then). */
  private texReleased: (() => void) | null;

  constructor(
    readonly size: number,
    host: HostArray | null,
    texture: DeviceTexture | null = null,
    onTextureReleased: (() => void) | null = null,
  ) {
    this.hostData = host;
    this.tex = texture;
    this.texReleased = texture ? onTextureReleased : null;
    liveStorages++;
    if (texture) {
      liveTextures++;
      this.watchTexture();
    }
  }

  private watchTexture(): void {
    if (this.tex) textureFinalizer?.register(this, { tex: this.tex, done: this.texReleased }, this);
  }

  /**
   * GL: keep a texture copy of this host data once a kernel reads it (set for leaves that require grad:
   * parameters). Their kernels then always get a texture, so nothing is compiled again at the second step,
   * when the optimizer has made the parameter a texture (GPU.js compiles per argument kind). Other host
   * data (a loop's inputs) gets no texture: a loop that never disposes them pins nothing on the device.
   */
  deviceResident = false;

  /** GL: gives host data its device copy (a texture the caller's upload kernel made). */
  attachTexture(texture: DeviceTexture, onTextureReleased: (() => void) | null): void {
    this.assertLive();
    if (this.tex) throw new Error('gpugrad internal: the storage already has a texture');
    this.tex = texture;
    this.texReleased = onTextureReleased;
    liveTextures++;
    this.watchTexture();
  }

  /** Hands this storage's texture (and its release callback) to `target`, then frees this storage. */
  detachTextureTo(target: Storage): void {
    this.assertLive();
    const tex = this.tex;
    if (!tex) throw new Error('gpugrad internal: no texture to hand over');
    const done = this.texReleased;
    textureFinalizer?.unregister(this);
    this.tex = null;
    this.texReleased = null;
    liveTextures--;
    target.attachTexture(tex, done);
    this.release();
  }

  static fromHost(data: HostArray): Storage {
    return new Storage(data.length, data, null);
  }

  get texture(): DeviceTexture | null {
    return this.tex;
  }

  get isReleased(): boolean {
    return this.released;
  }

  /** The data as a host typed array (reads a texture back once and keeps the copy). */
  host(): HostArray {
    this.assertLive();
    if (this.hostData === null) {
      readbacks++;
      const arr = this.tex!.toArray() as Float32Array;
      // GPU.js may return a larger or differently typed array for 1-D outputs; keep exactly `size`.
      this.hostData = arr.length === this.size && arr instanceof Float32Array ? arr : Float32Array.from(arr.subarray(0, this.size));
    }
    return this.hostData;
  }

  /** The data converted to float32 (cached), for handing int/bool data to a float32 kernel. */
  float32(): Float32Array {
    const h = this.host();
    if (h instanceof Float32Array) return h;
    if (this.f32 === null) this.f32 = Float32Array.from(h as ArrayLike<number>);
    return this.f32;
  }

  /** The data converted to float64 (cached), for the host executor. */
  float64(): Float64Array {
    const h = this.host();
    if (h instanceof Float64Array) return h;
    if (this.f64 === null) this.f64 = Float64Array.from(h as ArrayLike<number>);
    return this.f64;
  }

  /** Bumped by every in-place write; shared by all views, so a saved tensor sees changes made through any view. */
  version = 0;

  /** How many tensors view this storage. */
  get refCount(): number {
    return this.refs;
  }

  /**
   * In-place write: takes over the data of `src` (same size), which must have no other viewer; every
   * tensor viewing this storage sees the new values. `src` is left empty (its next release frees nothing).
   */
  adopt(src: Storage): void {
    this.assertLive();
    src.assertLive();
    if (src.size !== this.size) throw new Error(`gpugrad internal: in-place write of ${src.size} elements into ${this.size}`);
    this.dropTexture();
    if (src.tex) textureFinalizer?.unregister(src);
    this.hostData = src.hostData;
    this.tex = src.tex;
    this.texReleased = src.texReleased;
    src.texReleased = null;
    this.watchTexture();
    this.f32 = src.f32;
    this.f64 = src.f64;
    src.hostData = null;
    src.tex = null;
    src.f32 = null;
    src.f64 = null;
    src.released = true; // nothing left to free; the texture (if any) now belongs to this storage
    liveStorages--;
    this.version++;
  }

  retain(): void {
    this.assertLive();
    this.refs++;
  }

  release(): void {
    if (this.released) return;
    this.refs--;
    if (this.refs <= 0) this.free();
  }

  private free(): void {
    this.released = true;
    liveStorages--;
    this.dropTexture();
    recycle(this.hostData);
    this.hostData = null;
    this.f32 = null;
    this.f64 = null;
  }

  /**
   * Moves texture data to host memory (one readback) and deletes the texture; the data stays valid.
   * The graph does this for intermediates a synchronous loop never disposed (see engine.ts).
   */
  spill(): boolean {
    if (this.released || !this.tex) return false;
    this.host();
    this.dropTexture();
    return true;
  }

  private dropTexture(): void {
    if (!this.tex) return;
    textureFinalizer?.unregister(this);
    this.tex.delete();
    this.tex = null;
    liveTextures--;
    const cb = this.texReleased;
    this.texReleased = null;
    cb?.();
  }

  private assertLive(): void {
    if (this.released)
      throw new Error('gpugrad: this tensor was disposed; its data is gone (dispose() was called on it or on a view of the same storage)');
  }
}

export function storageCounts(): { storages: number; textures: number; readbacks: number } {
  return { storages: liveStorages, textures: liveTextures, readbacks };
}

/**
 * A kernel argument: a storage, or a number (a runtime parameter: a value the source reads by name instead
 * of baking it in, such as a view's offset, so that one compiled kernel serves every value).
 */
export type KernelArg = Storage | number;

/** A kernel argument as the host executor takes it: the storage's host array, or the number itself. */
export const hostArg = (a: KernelArg): HostArray | number => (typeof a === 'number' ? a : a.host());
