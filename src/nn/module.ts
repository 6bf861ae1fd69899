// nn.Module: a tree of modules holding parameters (leaf tensors that require grad) and buffers, with
// PyTorch's names and orders, so that `stateDict()` keys match PyTorch's `state_dict()` exactly and
// weights move both ways (`layers.0.self_attn.in_proj_weight`).
//
// Assignment registers, as PyTorch's __setattr__ does (a module is a Proxy whose defineProperty trap sees
// every property written, class fields included):
//   lmHead = new nn.Linear(64, 65);             // registers the child module 'lmHead'
//   w = randn([3, 3], { requiresGrad: true });  // a leaf that requires grad: registers the parameter 'w'
//   this.wte.weight = this.lmHead.weight;       // replaces the registered 'weight': the weights are tied
// A module keeps a camelCase JS property for a PyTorch name by assigning what register*() returns:
//   this.inProjWeight = this.registerParameter('in_proj_weight', randn([3 * e, e]));
//   this.outProj = this.registerModule('out_proj', new Linear(e, e));
// after which `m.inProjWeight = p` replaces the parameter 'in_proj_weight'. Assigning something else than
// a parameter (or null) to a parameter's property is an error, as in PyTorch; likewise for buffers and
// child modules. `delete m.name` unregisters.

import { Tensor, type DType } from '../autograd/tensor.js';
import { isGradEnabled, noGrad } from '../autograd/grad-mode.js';
import { record, releaseLater } from '../autograd/engine.js';
import { cat, reshape, slice } from '../ops/shape.js';
import { fmtShape } from '../helpers/shape.js';
import { checkBoolean, checkOptions } from '../helpers/validate.js';

export type StateDict = Record<string, Tensor>;

export interface LoadStateDictResult {
  missingKeys: string[];
  unexpectedKeys: string[];
}

/** Like `nn.Parameter(t)`: a detached leaf (sharing t's data) that requires grad. */
export function parameter(t: Tensor, requiresGrad = true): Tensor {
  if (!(t instanceof Tensor)) throw new Error(`parameter: expects a Tensor, got ${describeValue(t)}`);
  if (t.dtype !== 'float32' && t.dtype !== 'float64') {
    throw new Error(`parameter: only floating point tensors can be parameters, got ${t.dtype} (shape ${fmtShape(t.shape)})`);
  }
  const p = t._isDense() ? t.detach() : denseCopy(t);
  p.requiresGrad = requiresGrad;
  return p;
}

/**
 * A parameter is always dense (row-major, its whole storage), so that optimizer steps and their fused
 * natives update it in place: a view given as a parameter (a transpose, a slice...) becomes a dense copy
 * of its values, no longer sharing its base's storage (PyTorch's Parameter would share it).
 */
function denseCopy(t: Tensor): Tensor {
  return Tensor._fromStorage(t._materialize(), [...t.shape], t.dtype);
}

/**
 * A value's kind for error messages. gpugrad's own classes are recognised by identity (class names do not
 * survive minifiers); built-ins by their toStringTag (Map, Float32Array, ...); any other object shows its
 * constructor's name, for display only ('Object' for a plain object).
 */
export function describeValue(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (v instanceof Tensor) return `a Tensor of shape ${fmtShape(v.shape)}`;
  if (v instanceof Module) return `a Module (${v._getName()})`;
  if (typeof v === 'object') {
    const tag = Object.prototype.toString.call(v).slice(8, -1);
    return tag !== 'Object' ? tag : 'an object';
  }
  return typeof v;
}

function checkName(fn: string, kind: string, name: unknown): asserts name is string {
  if (typeof name !== 'string') throw new Error(`${fn}: ${kind} name must be a string, got ${describeValue(name)}`);
  if (name === '') throw new Error(`${fn}: ${kind} name can't be empty string ""`);
  if (name.includes('.')) throw new Error(`${fn}: ${kind} name can't contain ".", got "${name}"`);
}

/** Python's repr of a float (1e-05, 0.5, 1.0, 1e+16), for module reprs that match PyTorch's. */
export function pyFloat(x: number): string {
  if (Number.isNaN(x)) return 'nan';
  if (!Number.isFinite(x)) return x > 0 ? 'inf' : '-inf';
  if (x === 0) return Object.is(x, -0) ? '-0.0' : '0.0';
  const [mant, expStr] = x.toExponential().split('e');
  const exp = Number(expStr);
  if (exp < -4 || exp >= 16) {
    return `${mant}e${exp < 0 ? '-' : '+'}${String(Math.abs(exp)).padStart(2, '0')}`;
  }
  const digits = mant.replace('-', '').replace('.', '');
  const neg = x < 0 ? '-' : '';
  let s: string;
  if (exp >= 0) {
    const intPart = digits.slice(0, exp + 1).padEnd(exp + 1, '0');
    const frac = digits.slice(exp + 1);
    s = `${intPart}.${frac || '0'}`;
  } else {
    s = `0.${'0'.repeat(-exp - 1)}${digits}`;
  }
  return neg + s;
}

/** Python's repr of a bool. */
export const pyBool = (b: boolean): string => (b ? 'True' : 'False');

/** PyTorch's _addindent: indents every line but the first. */
export function addIndent(s: string, n: number): string {
  const lines = s.split('\n');
  if (lines.length === 1) return s;
  const pad = ' '.repeat(n);
  return [lines[0], ...lines.slice(1).map((l) => pad + l)].join('\n');
}

/** What a module knows about its own properties (kept under a symbol, out of enumeration and out of the traps). */
interface AttrState {
  /** JS property → the PyTorch name it holds (outProj → 'out_proj'). */
  names: Map<string, string>;
  /** What the last register*() call returned, claimed by the property it is assigned to. */
  just: { value: unknown; name: string } | null;
  /** Forward hooks, once one is registered (the module's forward is then wrapped). */
  hooks?: { pre: ForwardHook[]; post: ForwardHook[]; backward: ForwardHook[] };
}
type ForwardHook = (...args: unknown[]) => unknown;
const ATTRS = Symbol('gpugrad.moduleAttributes');

/** Index access for containers (ModuleList's `list[0]`, ModuleDict's `dict.wte`): undefined where not handled. */
export interface AttrHooks {
  get(m: Module, key: string): { value: unknown } | undefined;
  /** True when the container took the value (no own property is defined). */
  set(m: Module, key: string, value: unknown): boolean;
}

function stateOf(m: Module): AttrState {
  return (m as unknown as Record<symbol, AttrState>)[ATTRS];
}

const isParameterValue = (v: unknown): v is Tensor =>
  v instanceof Tensor && v.isLeaf && v.requiresGrad && (v.dtype === 'float32' || v.dtype === 'float64');

/** PyTorch's __setattr__ for `m[key] = v`, on the raw module (not its proxy). */
function assignAttribute(m: Module, key: string, v: unknown): void {
  const st = stateOf(m);
  const just = st.just;
  st.just = null;
  if (v === undefined) return; // a class field's declaration before its value: a plain property
  if (just && just.value === v) {
    // this.outProj = this.registerModule('out_proj', ...): the property names the registered entry
    st.names.set(key, just.name);
    return;
  }
  const name = st.names.get(key) ?? key;
  const what = (kind: string, expected: string): Error =>
    new Error(`${m._getName()}: cannot assign ${describeValue(v)} as ${kind} "${name}" (${expected} expected)`);
  if (m._parameters.has(name)) {
    if (v !== null && !isParameterValue(v))
      throw what('parameter', 'a parameter (a floating point leaf that requires grad: nn.parameter(t)) or null');
    m._parameters.set(name, v);
  } else if (m._buffers.has(name)) {
    if (v !== null && !(v instanceof Tensor)) throw what('buffer', 'a Tensor or null');
    m._buffers.set(name, v);
  } else if (m._modules.has(name)) {
    if (v !== null && !(v instanceof Module)) throw what('child module', 'a Module or null');
    m._modules.set(name, v);
  } else if (v instanceof Module) {
    m.registerModule(key, v);
    st.just = null;
  } else if (isParameterValue(v)) {
    m.registerParameter(key, v);
    st.just = null;
  }
}

function unregisterAttribute(m: Module, key: string): void {
  const st = stateOf(m);
  const name = st.names.get(key) ?? key;
  st.names.delete(key);
  m._parameters.delete(name);
  m._buffers.delete(name);
  m._nonPersistentBuffers.delete(name);
  m._modules.delete(name);
}

function moduleHandler(hooks: AttrHooks | null): ProxyHandler<Module> {
  return {
    defineProperty(target, key, desc) {
      if (typeof key === 'string' && 'value' in desc) {
        if (hooks?.set(target, key, desc.value)) return true;
        assignAttribute(target, key, desc.value);
      }
      return Reflect.defineProperty(target, key, desc);
    },
    deleteProperty(target, key) {
      if (typeof key === 'string') unregisterAttribute(target, key);
      return Reflect.deleteProperty(target, key);
    },
    ...(hooks && {
      get(target, key, receiver) {
        if (typeof key === 'string') {
          const hit = hooks.get(target, key);
          if (hit) return hit.value;
        }
        return Reflect.get(target, key, receiver);
      },
    }),
  };
}
const PLAIN_HANDLER = moduleHandler(null);

export class Module {
  /** Train mode (dropout active); `train()` / `eval()` set it on the whole tree. */
  training = true;
  /** @internal PyTorch-named parameters, in registration order (null = registered as None). */
  readonly _parameters = new Map<string, Tensor | null>();
  /** @internal PyTorch-named buffers. */
  readonly _buffers = new Map<string, Tensor | null>();
  /** @internal names of buffers left out of the state dict. */
  readonly _nonPersistentBuffers = new Set<string>();
  /** @internal PyTorch-named child modules. */
  readonly _modules = new Map<string, Module | null>();

  /**
   * The module's name in `toString()` and in errors. Class names do not survive minifiers (esbuild and
   * terser rename classes to single letters) and gpugrad never reads them: every built-in module declares
   * its name as a static (`static override readonly moduleName = 'Linear'`), and a subclass shows the name
   * its nearest class declares. Declare `static override readonly moduleName = 'MyNet'` in your own modules
   * to see `MyNet(...)` (otherwise a direct subclass of Module shows `Module(...)`).
   */
  static readonly moduleName: string = 'Module';

  /** @internal index access for containers (ModuleList, ModuleDict); null for other modules. */
  static readonly _attrHooks: AttrHooks | null = null;

  constructor() {
    Object.defineProperty(this, ATTRS, { value: { names: new Map(), just: null } satisfies AttrState });
    const hooks = (new.target as typeof Module)._attrHooks;
    // the proxy is how assignment registers (see the header)
    return new Proxy(this, hooks ? moduleHandler(hooks) : PLAIN_HANDLER);
  }

  _getName(): string {
    return (this.constructor as typeof Module).moduleName;
  }

  private checkFree(fn: string, name: string, kind: 'parameters' | 'buffers' | 'modules'): void {
    const owners: ['parameters' | 'buffers' | 'modules', Map<string, unknown>][] = [
      ['parameters', this._parameters],
      ['buffers', this._buffers],
      ['modules', this._modules],
    ];
    for (const [k, map] of owners) {
      if (k !== kind && map.has(name)) throw new Error(`${fn}: ${this._getName()} already has a ${k.slice(0, -1)} named "${name}"`);
    }
  }

  /**
   * Registers a parameter under its PyTorch name and returns it (made a leaf that requires grad).
   * `null` registers the name as absent (like `register_parameter('bias', None)`).
   */
  registerParameter(name: string, t: Tensor): Tensor;
  registerParameter(name: string, t: null): null;
  registerParameter(name: string, t: Tensor | null): Tensor | null;
  registerParameter(name: string, t: Tensor | null): Tensor | null {
    checkName('registerParameter', 'parameter', name);
    this.checkFree('registerParameter', name, 'parameters');
    if (t === undefined) throw new Error(`registerParameter: parameter "${name}" must be a Tensor or null, got undefined`);
    if (t === null) {
      this._parameters.set(name, null);
      stateOf(this).just = { value: null, name };
      return null;
    }
    if (!(t instanceof Tensor)) throw new Error(`registerParameter: parameter "${name}" must be a Tensor or null, got ${describeValue(t)}`);
    if (t.isDisposed)
      throw new Error(`registerParameter: parameter "${name}" (shape ${fmtShape(t.shape)}) was disposed by ${t._disposedBy}`);
    if (t.dtype !== 'float32' && t.dtype !== 'float64') {
      throw new Error(`registerParameter: parameter "${name}" must be floating point, got ${t.dtype} (shape ${fmtShape(t.shape)})`);
    }
    // a view becomes a dense copy (see denseCopy)
    const p = !t._isDense() ? denseCopy(t) : t.isLeaf ? t : t.detach();
    p.requiresGrad = true;
    this._parameters.set(name, p);
    stateOf(this).just = { value: p, name };
    return p;
  }

  /** Registers a buffer (state that is not a parameter); non-persistent buffers stay out of the state dict. */
  registerBuffer(name: string, t: Tensor, persistent?: boolean): Tensor;
  registerBuffer(name: string, t: null, persistent?: boolean): null;
  registerBuffer(name: string, t: Tensor | null, persistent?: boolean): Tensor | null;
  registerBuffer(name: string, t: Tensor | null, persistent = true): Tensor | null {
    checkName('registerBuffer', 'buffer', name);
    this.checkFree('registerBuffer', name, 'buffers');
    checkBoolean('registerBuffer', 'persistent', persistent, true);
    if (t !== null && t !== undefined && !(t instanceof Tensor)) {
      throw new Error(`registerBuffer: buffer "${name}" must be a Tensor or null, got ${describeValue(t)}`);
    }
    this._buffers.set(name, t ?? null);
    if (persistent) this._nonPersistentBuffers.delete(name);
    else this._nonPersistentBuffers.add(name);
    stateOf(this).just = { value: t ?? null, name };
    return t ?? null;
  }

  /** Registers a child module under its PyTorch name ('out_proj', 'layers', '0') and returns it. */
  registerModule<M extends Module>(name: string, m: M): M;
  registerModule(name: string, m: null): null;
  registerModule<M extends Module>(name: string, m: M | null): M | null;
  registerModule<M extends Module>(name: string, m: M | null): M | null {
    checkName('registerModule', 'module', name);
    this.checkFree('registerModule', name, 'modules');
    if (m !== null && m !== undefined && !(m instanceof Module)) {
      throw new Error(`registerModule: module "${name}" must be a Module or null, got ${describeValue(m)}`);
    }
    this._modules.set(name, m ?? null);
    stateOf(this).just = { value: m ?? null, name };
    return m ?? null;
  }

  // ---- traversal ------------------------------------------------------------------------------------

  /** (name, module) for this module and every descendant, pre-order, each module once. */
  namedModules(prefix = '', memo: Set<Module> = new Set()): [string, Module][] {
    const out: [string, Module][] = [];
    const walk = (m: Module, pre: string): void => {
      if (memo.has(m)) return;
      memo.add(m);
      out.push([pre, m]);
      for (const [name, child] of m._modules) {
        if (child) walk(child, pre ? `${pre}.${name}` : name);
      }
    };
    walk(this, prefix);
    return out;
  }

  modules(): Module[] {
    return this.namedModules().map(([, m]) => m);
  }

  namedChildren(): [string, Module][] {
    const seen = new Set<Module>();
    const out: [string, Module][] = [];
    for (const [name, m] of this._modules) {
      if (m && !seen.has(m)) {
        seen.add(m);
        out.push([name, m]);
      }
    }
    return out;
  }

  children(): Module[] {
    return this.namedChildren().map(([, m]) => m);
  }

  private namedMembers(kind: '_parameters' | '_buffers', prefix: string, recurse: boolean): [string, Tensor][] {
    const mods: [string, Module][] = recurse ? this.namedModules(prefix) : [[prefix, this]];
    const seen = new Set<Tensor>();
    const out: [string, Tensor][] = [];
    for (const [pre, m] of mods) {
      for (const [name, t] of m[kind]) {
        if (!t || seen.has(t)) continue;
        seen.add(t);
        out.push([pre ? `${pre}.${name}` : name, t]);
      }
    }
    return out;
  }

  /** (dotted PyTorch name, parameter), each parameter once, in PyTorch's order. */
  namedParameters(prefix = '', recurse = true): [string, Tensor][] {
    return this.namedMembers('_parameters', prefix, recurse);
  }

  parameters(recurse = true): Tensor[] {
    return this.namedParameters('', recurse).map(([, p]) => p);
  }

  namedBuffers(prefix = '', recurse = true): [string, Tensor][] {
    return this.namedMembers('_buffers', prefix, recurse);
  }

  buffers(recurse = true): Tensor[] {
    return this.namedBuffers('', recurse).map(([, b]) => b);
  }

  /** The module at a dotted path ('layers.0.self_attn'); '' is this module. */
  getSubmodule(target: string): Module {
    if (typeof target !== 'string') throw new Error(`getSubmodule: target must be a dotted name, got ${describeValue(target)}`);
    if (target === '') return this;
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- a cursor walking down from this module
    let m: Module = this;
    const walked: string[] = [];
    for (const part of target.split('.')) {
      const next = m._modules.get(part);
      if (!next)
        throw new Error(
          `getSubmodule: ${m._getName()}${walked.length ? ` (at "${walked.join('.')}")` : ''} has no submodule "${part}" (looking up "${target}")`,
        );
      walked.push(part);
      m = next;
    }
    return m;
  }

  /** The parameter at a dotted path ('layers.0.linear1.weight'). */
  getParameter(target: string): Tensor {
    const at = target.lastIndexOf('.');
    const m = this.getSubmodule(at < 0 ? '' : target.slice(0, at));
    const p = m._parameters.get(target.slice(at + 1));
    if (!p) throw new Error(`getParameter: ${m._getName()} has no parameter "${target.slice(at + 1)}" (looking up "${target}")`);
    return p;
  }

  /** The buffer at a dotted path. */
  getBuffer(target: string): Tensor {
    const at = target.lastIndexOf('.');
    const m = this.getSubmodule(at < 0 ? '' : target.slice(0, at));
    const b = m._buffers.get(target.slice(at + 1));
    if (!b) throw new Error(`getBuffer: ${m._getName()} has no buffer "${target.slice(at + 1)}" (looking up "${target}")`);
    return b;
  }

  // ---- modes and bulk changes -------------------------------------------------------------------------

  /** Sets train mode on this module and all descendants (dropout active); returns this. */
  train(mode = true): this {
    if (typeof mode !== 'boolean') throw new Error(`train: mode is expected to be a boolean, got ${describeValue(mode)}`);
    this.training = mode;
    for (const m of this.children()) m.train(mode);
    return this;
  }

  /** Eval mode (dropout is the identity); returns this. */
  eval(): this {
    return this.train(false);
  }

  /** Calls fn on every descendant (children first, like PyTorch) and on this module; returns this. */
  apply(fn: (m: Module) => void): this {
    for (const m of this.children()) m.apply(fn);
    fn(this);
    return this;
  }

  /** Drops every parameter's gradient (PyTorch's default set_to_none=True). */
  zeroGrad(): void {
    for (const p of this.parameters()) p.zeroGrad();
  }

  /** Sets requiresGrad on every parameter (freezing with false); returns this. */
  requiresGrad_(requiresGrad = true): this {
    for (const p of this.parameters()) p.requiresGrad = requiresGrad;
    return this;
  }

  /**
   * Converts floating point parameters and buffers to `dtype` (float32 or float64). Tensors cannot
   * change dtype in place, so each one is replaced by a new tensor; every JS property of a module in
   * this tree that referenced an old tensor is pointed at the new one. Create optimizers after `to()`.
   */
  to(dtype: DType): this {
    if (dtype !== 'float32' && dtype !== 'float64') {
      throw new Error(`to: Module.to only accepts floating point dtypes (float32, float64), but got dtype=${String(dtype)}`);
    }
    const replaced = new Map<Tensor, Tensor>();
    const convert = (t: Tensor, isParam: boolean): Tensor => {
      const done = replaced.get(t);
      if (done) return done;
      if (t.dtype === dtype || (t.dtype !== 'float32' && t.dtype !== 'float64')) return t;
      const n = noGrad(() => t.to(dtype));
      if (isParam) {
        n.requiresGrad = t.requiresGrad;
        const tg = t._gradInternal();
        if (tg) n._setGrad(noGrad(() => tg.to(dtype)));
      }
      replaced.set(t, n);
      return n;
    };
    const mods = this.modules();
    for (const m of mods) {
      for (const [k, p] of m._parameters) if (p) m._parameters.set(k, convert(p, true));
      for (const [k, b] of m._buffers) if (b) m._buffers.set(k, convert(b, false));
    }
    if (replaced.size === 0) return this;
    for (const m of mods) {
      const obj = m as unknown as Record<string, unknown>;
      for (const key of Object.keys(obj)) {
        const v = obj[key];
        if (v instanceof Tensor && replaced.has(v)) obj[key] = replaced.get(v);
      }
    }
    return this;
  }

  float(): this {
    return this.to('float32');
  }

  double(): this {
    return this.to('float64');
  }

  // ---- state dict -------------------------------------------------------------------------------------

  /**
   * Parameters then persistent buffers, module by module in PyTorch's order, under PyTorch's dotted
   * names. Values are detached tensors sharing the data (as in PyTorch, later in-place updates such as
   * optimizer steps show through; clone() them for a snapshot); `keepVars` returns the tensors themselves.
   */
  stateDict(opts: { prefix?: string; keepVars?: boolean } = {}): StateDict {
    checkOptions('stateDict', opts, ['prefix', 'keepVars']);
    const keep = checkBoolean('stateDict', 'keepVars', opts.keepVars, false);
    if (opts.prefix !== undefined && typeof opts.prefix !== 'string')
      throw new Error(`stateDict: prefix must be a string, got ${describeValue(opts.prefix)}`);
    const out: StateDict = {};
    const walk = (m: Module, pre: string): void => {
      for (const [name, p] of m._parameters) if (p) out[pre + name] = keep ? p : p.detach();
      for (const [name, b] of m._buffers) {
        if (b && !m._nonPersistentBuffers.has(name)) out[pre + name] = keep ? b : b.detach();
      }
      for (const [name, c] of m._modules) if (c) walk(c, `${pre}${name}.`);
    };
    walk(this, opts.prefix ?? '');
    return out;
  }

  /**
   * Copies values into the existing parameters and buffers in place (under noGrad, so optimizers keep
   * their references), converting dtype as needed. Strict mode throws on missing or unexpected keys; a
   * shape mismatch always throws. Returns the missing and unexpected keys.
   */
  loadStateDict(dict: StateDict, opts: { strict?: boolean } = {}): LoadStateDictResult {
    checkOptions('loadStateDict', opts, ['strict']);
    const strict = checkBoolean('loadStateDict', 'strict', opts.strict, true);
    if (dict === null || typeof dict !== 'object')
      throw new Error(`loadStateDict: expects a Record<string, Tensor>, got ${describeValue(dict)}`);
    const own = this.stateDict({ keepVars: true });
    const missingKeys: string[] = [];
    const mismatches: string[] = [];
    const copies: [Tensor, Tensor][] = [];
    for (const [key, target] of Object.entries(own)) {
      if (!Object.prototype.hasOwnProperty.call(dict, key)) {
        missingKeys.push(key);
        continue;
      }
      const src = dict[key];
      if (!(src instanceof Tensor)) {
        mismatches.push(
          `While copying the parameter named "${key}", expected a Tensor from checkpoint but received ${describeValue(src)}.`,
        );
        continue;
      }
      if (src.shape.length !== target.shape.length || src.shape.some((d, i) => d !== target.shape[i])) {
        mismatches.push(
          `size mismatch for ${key}: copying a param with shape ${fmtShape(src.shape)} from checkpoint, the shape in current model is ${fmtShape(target.shape)}.`,
        );
        continue;
      }
      copies.push([target, src]);
    }
    const unexpectedKeys = Object.keys(dict).filter((k) => !Object.prototype.hasOwnProperty.call(own, k));
    const errors: string[] = [];
    if (strict) {
      if (missingKeys.length) errors.push(`Missing key(s) in state_dict: ${missingKeys.map((k) => `"${k}"`).join(', ')}.`);
      if (unexpectedKeys.length) errors.push(`Unexpected key(s) in state_dict: ${unexpectedKeys.map((k) => `"${k}"`).join(', ')}.`);
    }
    errors.push(...mismatches);
    if (errors.length) {
      throw new Error(`loadStateDict: Error(s) in loading state_dict for ${this._getName()}:\n\t${errors.join('\n\t')}`);
    }
    noGrad(() => {
      for (const [target, src] of copies) if (target !== src) target.copy_(src);
    });
    return { missingKeys, unexpectedKeys };
  }

  // ---- forward and repr ---------------------------------------------------------------------------

  /** The computation; subclasses override it (`override forward(x: Tensor): Tensor`). */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  forward(..._args: any[]): any {
    throw new Error(`forward: ${this._getName()} is missing the required "forward" function`);
  }

  /**
   * Registers `hook(module, args)`, run before every forward (PyTorch's `register_forward_pre_hook`); an
   * array it returns replaces the arguments. Returns a handle whose `remove()` unregisters it. Hooks run
   * whether the module is called by `forward(...)` or `call(...)`.
   */
  registerForwardPreHook(hook: (module: this, args: unknown[]) => unknown[] | void): { remove(): void } {
    return this.addForwardHook('registerForwardPreHook', 'pre', hook as ForwardHook);
  }

  /**
   * Registers `hook(module, args, output)`, run after every forward (PyTorch's `register_forward_hook`); a
   * value it returns (other than undefined) replaces the output. Returns a handle with `remove()`.
   */
  registerForwardHook(hook: (module: this, args: unknown[], output: unknown) => unknown): { remove(): void } {
    return this.addForwardHook('registerForwardHook', 'post', hook as ForwardHook);
  }

  /**
   * Registers `hook(module, gradInput, gradOutput)`, run once per backward when the gradients with respect to
   * the module's tensor inputs have been computed (PyTorch's `register_full_backward_hook`): `gradInput` has
   * one entry per tensor argument of forward (null where it requires no grad), `gradOutput` one per tensor
   * output (null where no gradient arrived). An array it returns replaces `gradInput`. When no input requires
   * grad, it runs when the output gradients arrive, with `gradInput` all null. Returns a handle with `remove()`.
   */
  registerFullBackwardHook(hook: (module: this, gradInput: (Tensor | null)[], gradOutput: (Tensor | null)[]) => (Tensor | null)[] | void): {
    remove(): void;
  } {
    return this.addForwardHook('registerFullBackwardHook', 'backward', hook as ForwardHook);
  }

  private addForwardHook(fn: string, kind: 'pre' | 'post' | 'backward', hook: ForwardHook): { remove(): void } {
    if (typeof hook !== 'function') throw new Error(`${fn}: expects a function, got ${describeValue(hook)}`);
    const st = stateOf(this);
    if (!st.hooks) {
      // the first hook wraps this module's forward, as an own property (a plain function: not registered)
      const hooks = { pre: [] as ForwardHook[], post: [] as ForwardHook[], backward: [] as ForwardHook[] };
      st.hooks = hooks;
      const inner = this.forward;
      const wrapped = (...args: unknown[]): unknown => {
        let a = args;
        for (const h of [...hooks.pre]) {
          const r = (h as (m: Module, a: unknown[]) => unknown)(this, a);
          if (r !== undefined) {
            if (!Array.isArray(r))
              throw new Error(
                `forward pre-hook of ${this._getName()}: must return an array of arguments or nothing, got ${describeValue(r)}`,
              );
            a = r;
          }
        }
        const bw = hooks.backward.length > 0 && isGradEnabled() ? backwardHookRegion(this, [...hooks.backward], a) : null;
        if (bw) a = bw.args;
        let out = inner.apply(this, a);
        if (bw) out = bw.wrapOutput(out);
        for (const h of [...hooks.post]) {
          const r = (h as (m: Module, a: unknown[], o: unknown) => unknown)(this, a, out);
          if (r !== undefined) out = r;
        }
        return out;
      };
      Object.defineProperty(this, 'forward', { value: wrapped, writable: true, configurable: true, enumerable: false });
    }
    const list = st.hooks[kind];
    const entry: ForwardHook = (...xs: unknown[]) => (hook as (...ys: unknown[]) => unknown)(...xs);
    list.push(entry);
    return {
      remove: () => {
        const k = list.indexOf(entry);
        if (k >= 0) list.splice(k, 1);
      },
    };
  }

  /** Runs forward (like calling a PyTorch module: `model.call(x)`). */
  call(...args: Parameters<this['forward']>): ReturnType<this['forward']> {
    return this.forward(...args);
  }

  /** The text inside the parentheses of a leaf module's repr (`in_features=4, out_features=3, bias=True`). */
  extraRepr(): string {
    return '';
  }

  /** PyTorch's module repr. */
  toString(): string {
    const extra = this.extraRepr();
    const extraLines = extra ? extra.split('\n') : [];
    const childLines: string[] = [];
    for (const [key, m] of this._modules) {
      childLines.push(`(${key}): ${addIndent(m ? m.toString() : 'None', 2)}`);
    }
    const lines = [...extraLines, ...childLines];
    let s = `${this._getName()}(`;
    if (lines.length) {
      if (extraLines.length === 1 && childLines.length === 0) s += extraLines[0];
      else s += `\n  ${lines.join('\n  ')}\n`;
    }
    return `${s})`;
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return this.toString();
  }
}

// ---- full backward hooks -------------------------------------------------------------------------------

type BackwardHook = (m: Module, gradInput: (Tensor | null)[], gradOutput: (Tensor | null)[]) => unknown;

/**
 * The graph around one forward call with full backward hooks: the tensor arguments that require grad pass
 * through one node (packed into one tensor when there are several, which the module then reads slices of),
 * so their gradients arrive together and the hooks run once, with the output gradients that identity nodes
 * on the outputs caught on the way in.
 */
function backwardHookRegion(m: Module, hooks: ForwardHook[], args: unknown[]): { args: unknown[]; wrapOutput: (out: unknown) => unknown } {
  const name = `backward hook of ${m._getName()}`;
  const tensorArgs = args.map((a, k) => (a instanceof Tensor ? k : -1)).filter((k) => k >= 0);
  const live = tensorArgs.filter((k) => (args[k] as Tensor).requiresGrad);
  const gradOutput: (Tensor | null)[] = [];
  let gradOutputs = 0;
  let arrived = 0;
  const run = (gradIn: (Tensor | null)[]): (Tensor | null)[] => {
    let gi = gradIn;
    for (const h of hooks) {
      const r = (h as BackwardHook)(m, gi, [...gradOutput]);
      if (r === undefined) continue;
      if (
        !Array.isArray(r) ||
        r.length !== gi.length ||
        r.some((t, k) => t !== null && (!(t instanceof Tensor) || (gi[k] && t.shape.join() !== gi[k]!.shape.join())))
      )
        throw new Error(
          `${name}: must return nothing or an array of ${gi.length} gradients (Tensor or null) of the inputs' shapes, got ${describeValue(r)}`,
        );
      gi = r as (Tensor | null)[];
    }
    // a hook may keep them: on GL their textures move to host memory at the next backward, as the graph's do
    for (const t of gradOutput) if (t) releaseLater(t);
    return gi;
  };
  const sameDtype = live.every((k) => (args[k] as Tensor).dtype === (args[live[0]] as Tensor).dtype);
  const newArgs = [...args];
  if (live.length && sameDtype) {
    const ins = live.map((k) => args[k] as Tensor);
    const sizes = ins.map((t) => t.numel());
    const packed =
      ins.length === 1
        ? ins[0]._view([...ins[0].shape])
        : noGrad(() =>
            cat(
              ins.map((t) => reshape(t, [t.numel()])),
              0,
            ),
          );
    const back = (g: Tensor): (Tensor | null)[] => {
      let at = 0;
      const parts = ins.map((t, j) => {
        const p = ins.length === 1 ? g : reshape(slice(g, 0, at, at + sizes[j]), [...t.shape]);
        at += sizes[j];
        return p;
      });
      const gradIn = tensorArgs.map((k) => (live.includes(k) ? parts[live.indexOf(k)] : null));
      const out = run(gradIn);
      return live.map((k) => out[tensorArgs.indexOf(k)]);
    };
    // the backward is written with ops: differentiable again (createGraph)
    const node = record(packed, { name: 'BackwardHookFunctionBackward', inputs: ins, backward: back, backwardGraph: back });
    let at = 0;
    live.forEach((k, j) => {
      const t = args[k] as Tensor;
      newArgs[k] = ins.length === 1 ? node : reshape(slice(node, 0, at, at + sizes[j]), [...t.shape]);
      at += sizes[j];
    });
  }
  const fireFromOutputs = live.length === 0 || !sameDtype;
  const wrapOne = (o: Tensor): Tensor => {
    if (!o.requiresGrad) {
      gradOutput.push(null);
      return o;
    }
    const j = gradOutput.length;
    gradOutput.push(null);
    gradOutputs++;
    const back = (g: Tensor): Tensor[] => {
      gradOutput[j] = g._view([...g.shape]); // the engine frees g itself once this node is done
      // no input node to wait for: the hooks run once every output's gradient is here (gradInput all null)
      if (fireFromOutputs && ++arrived === gradOutputs) run(tensorArgs.map(() => null));
      return [g];
    };
    return record(o._view([...o.shape]), { name: 'BackwardHookFunctionBackward', inputs: [o], backward: back, backwardGraph: back });
  };
  const wrapOutput = (out: unknown): unknown => {
    if (out instanceof Tensor) return wrapOne(out);
    if (Array.isArray(out)) return out.map((o) => (o instanceof Tensor ? wrapOne(o) : o));
    return out;
  };
  return { args: newArgs, wrapOutput };
}
