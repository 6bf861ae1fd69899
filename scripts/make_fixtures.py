#!/usr/bin/env python3
"""Writes gpugrad's PyTorch golden fixtures into test/fixtures/.

Run with Debian's python, which has PyTorch 1.13 (CPU):

    /usr/bin/python3 scripts/make_fixtures.py        (or: npm run fixtures)

The output is committed; CI never runs Python. Everything is deterministic: each file starts from its
own torch.manual_seed, every tensor is made in float64 (a few MultiheadAttention cases are cast to
float32 on purpose and say so), and numbers are written with Python's shortest round-trip repr, so
float64 values survive JSON exactly. The schema of every file is documented in test/fixtures/README.md;
keep the two in step.
"""

import json
import math
import os
import struct
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, 'test', 'fixtures')
SCHEMA_VERSION = 1

torch.set_default_dtype(torch.float64)
torch.use_deterministic_algorithms(True)
torch.set_num_threads(1)

INF = float('inf')


# ---- JSON encoding ------------------------------------------------------------------------------

def num(x):
    """A float as a JSON value: non-finite values become the strings "Infinity", "-Infinity", "NaN"."""
    x = float(x)
    if math.isnan(x):
        return 'NaN'
    if math.isinf(x):
        return 'Infinity' if x > 0 else '-Infinity'
    return x


def dtype_name(t):
    if t.dtype == torch.float64:
        return 'float64'
    if t.dtype == torch.float32:
        return 'float32'
    if t.dtype == torch.bool:
        return 'bool'
    if t.dtype in (torch.int64, torch.int32):
        return 'int32'  # gpugrad's only integer dtype; every index used here fits
    raise ValueError(f'unsupported dtype {t.dtype}')


def T(t):
    """{shape, dtype, data}: data is the row-major flat list of values."""
    t = t.detach()
    flat = t.reshape(-1).tolist()
    dt = dtype_name(t)
    if dt == 'bool':
        data = [bool(v) for v in flat]
    elif dt == 'int32':
        data = [int(v) for v in flat]
    else:
        data = [num(v) for v in flat]
    return {'shape': list(t.shape), 'dtype': dt, 'data': data}


def T_or_none(t):
    return None if t is None else T(t)


def write_json(name, header, cases_key, cases):
    """One case per line, so regenerated fixtures diff readably."""
    path = os.path.join(OUT, name)
    head = json.dumps(header, separators=(',', ':'), allow_nan=False)
    lines = [json.dumps(c, separators=(',', ':'), allow_nan=False) for c in cases]
    body = head[:-1] + (',' if len(header) else '') + json.dumps(cases_key) + ':[\n' + ',\n'.join(lines) + '\n]}\n'
    json.loads(body)  # well-formed
    with open(path, 'w') as f:
        f.write(body)
    size = os.path.getsize(path)
    print(f'{name}: {len(cases)} {cases_key}, {size} bytes')
    if size > 1_500_000:
        sys.exit(f'{name} is {size} bytes; keep each fixture under 1.5 MB')
    return size


def header(kind, extra=None):
    h = {
        'schema': SCHEMA_VERSION,
        'kind': kind,
        'generator': 'scripts/make_fixtures.py',
        'torch': torch.__version__,
    }
    if extra:
        h.update(extra)
    return h


# ---- core ops ------------------------------------------------------------------------------------

def randn(*shape):
    return torch.randn(tuple(shape), dtype=torch.float64)


def rand(*shape):
    return torch.rand(tuple(shape), dtype=torch.float64)


def positive(*shape):
    return rand(*shape) + 0.5


def away_from_zero(*shape):
    s = torch.where(rand(*shape) < 0.5, -1.0, 1.0)
    return s * (rand(*shape) + 0.5)


def core_case(name, op, inputs, fn, args=None):
    """inputs: dict name -> tensor or list of tensors (floating ones are differentiable).
    fn(**leaves) returns a tensor or a dict of named outputs."""
    leaves = {}
    diff = []  # (input name, index in list or None, leaf)
    for k, v in inputs.items():
        if isinstance(v, (list, tuple)):
            ls = []
            for i, t in enumerate(v):
                leaf = t.detach().clone()
                if leaf.is_floating_point():
                    leaf.requires_grad_(True)
                    diff.append((k, i, leaf))
                ls.append(leaf)
            leaves[k] = ls
        else:
            leaf = v.detach().clone()
            if leaf.is_floating_point():
                leaf.requires_grad_(True)
                diff.append((k, None, leaf))
            leaves[k] = leaf
    out = fn(**leaves)
    outs = out if isinstance(out, dict) else {'out': out}
    grad_out = {}
    outs_req, gouts = [], []
    for k, o in outs.items():
        if o.is_floating_point() and o.requires_grad:
            g = randn(*o.shape)
            grad_out[k] = g
            outs_req.append(o)
            gouts.append(g)
    # no float output or no float input (one_hot, isclose): no gradient to take
    grads = torch.autograd.grad(outs_req, [d[2] for d in diff], gouts, allow_unused=True) if outs_req and diff else [None] * len(diff)
    gjson = {}
    for (k, i, leaf), g in zip(diff, grads):
        if g is None:
            g = torch.zeros_like(leaf)
        if i is None:
            gjson[k] = T(g)
        else:
            gjson.setdefault(k, []).append(T(g))
    ijson = {k: ([T(t) for t in v] if isinstance(v, (list, tuple)) else T(v)) for k, v in inputs.items()}
    return {
        'name': name,
        'op': op,
        'args': args or {},
        'inputs': ijson,
        'outputs': {k: T(o) for k, o in outs.items()},
        'gradOut': {k: T(g) for k, g in grad_out.items()},
        'grads': gjson,
    }


def make_core():
    torch.manual_seed(1)
    cases = []
    add = cases.append

    # -- binary, with broadcasting (other may be a number in args.other)
    add(core_case('add broadcast (2,3,4)+(4)', 'add', {'input': randn(2, 3, 4), 'other': randn(4)}, lambda input, other: input + other))
    add(core_case('add broadcast (2,1,4)+(3,1)', 'add', {'input': randn(2, 1, 4), 'other': randn(3, 1)}, lambda input, other: input + other))
    add(core_case('add scalar', 'add', {'input': randn(3, 2)}, lambda input: input + 1.25, {'other': 1.25}))
    add(core_case('sub broadcast (3,1)-(2,1,4)', 'sub', {'input': randn(3, 1), 'other': randn(2, 1, 4)}, lambda input, other: input - other))
    add(core_case('mul broadcast (2,3,4)*(3,1)', 'mul', {'input': randn(2, 3, 4), 'other': randn(3, 1)}, lambda input, other: input * other))
    add(core_case('mul 0-d tensor', 'mul', {'input': randn(4, 3), 'other': randn()}, lambda input, other: input * other))
    add(core_case('mul scalar', 'mul', {'input': randn(5)}, lambda input: input * -2.5, {'other': -2.5}))
    add(core_case('div broadcast (2,3)/(3)', 'div', {'input': randn(2, 3), 'other': away_from_zero(3)}, lambda input, other: input / other))
    add(core_case('div broadcast (4,1)/(1,3)', 'div', {'input': randn(4, 1), 'other': away_from_zero(1, 3)}, lambda input, other: input / other))
    add(core_case('div scalar', 'div', {'input': randn(2, 2)}, lambda input: input / 0.75, {'other': 0.75}))
    add(core_case('pow broadcast (2,1,3)**(4,3)', 'pow', {'input': positive(2, 1, 3), 'other': randn(4, 3)}, lambda input, other: input ** other))
    add(core_case('pow integer exponent, negative bases', 'pow', {'input': randn(6)}, lambda input: input ** 3, {'other': 3}))
    add(core_case('pow fractional exponent', 'pow', {'input': positive(2, 3)}, lambda input: input ** 0.5, {'other': 0.5}))
    a = randn(3, 4)
    b = randn(4)
    a[0, 1] = b[1]
    a[2, 3] = b[3]  # ties split the gradient in half
    add(core_case('maximum broadcast with ties', 'maximum', {'input': a, 'other': b}, lambda input, other: torch.maximum(input, other)))
    a = randn(2, 1, 3)
    b = randn(4, 3)
    b[2, 0] = a[1, 0, 0]
    add(core_case('minimum broadcast with a tie', 'minimum', {'input': a, 'other': b}, lambda input, other: torch.minimum(input, other)))

    # -- unary
    add(core_case('exp', 'exp', {'input': randn(3, 5)}, torch.exp))
    add(core_case('log', 'log', {'input': positive(3, 5) * 2}, torch.log))
    add(core_case('sqrt', 'sqrt', {'input': positive(3, 5) * 2}, torch.sqrt))
    add(core_case('rsqrt', 'rsqrt', {'input': positive(3, 5) * 2}, torch.rsqrt))
    add(core_case('abs', 'abs', {'input': away_from_zero(3, 5)}, torch.abs))
    x = randn(3, 5) * 2
    x[0, 0], x[0, 1], x[1, 2], x[2, 4] = 25.0, -30.0, 50.0, -0.0
    add(core_case('tanh incl. large |x|', 'tanh', {'input': x}, torch.tanh))
    x = randn(3, 5) * 3
    x[0, 0], x[1, 1], x[2, 2] = 40.0, -40.0, 0.0
    add(core_case('sigmoid incl. large |x|', 'sigmoid', {'input': x}, torch.sigmoid))
    x = randn(3, 5)
    x[1, 1], x[2, 3] = 0.0, 0.0  # PyTorch's relu gradient at 0 is 0
    add(core_case('relu incl. exact zeros', 'relu', {'input': x}, torch.relu))
    x = randn(4, 5) * 2.5
    x[0, 0], x[0, 1], x[0, 2], x[0, 3] = 7.0, -7.0, 0.0, -3.5
    add(core_case('gelu erf', 'gelu', {'input': x}, lambda input: F.gelu(input), {'approximate': 'none'}))
    add(core_case('gelu tanh approximation', 'gelu', {'input': x.clone()}, lambda input: F.gelu(input, approximate='tanh'), {'approximate': 'tanh'}))

    # -- selection
    cond = rand(3, 4) < 0.5
    add(core_case('where broadcast', 'where', {'condition': cond, 'input': randn(3, 4), 'other': randn(4)}, lambda condition, input, other: torch.where(condition, input, other)))
    cond = rand(2, 1, 3) < 0.5
    add(core_case('where broadcast all three', 'where', {'condition': cond, 'input': randn(4, 1), 'other': randn(1, 3)}, lambda condition, input, other: torch.where(condition, input, other)))
    mask = rand(3, 4) < 0.4
    add(core_case('maskedFill mask (3,4) on (2,3,4)', 'maskedFill', {'input': randn(2, 3, 4), 'mask': mask}, lambda input, mask: input.masked_fill(mask, -1.5), {'value': -1.5}))
    mask = rand(2, 1, 4) < 0.5
    mask[0, 0, 0] = True
    add(core_case('maskedFill -inf', 'maskedFill', {'input': randn(2, 3, 4), 'mask': mask}, lambda input, mask: input.masked_fill(mask, -INF), {'value': num(-INF)}))

    # -- reductions (dim: null = all, a number, or a list)
    def reduce_cases(op, fn, specs):
        for dim, keepdim in specs:
            x = randn(2, 3, 4)
            args = {'dim': dim, 'keepdim': keepdim}
            if dim is None:
                f = lambda input: fn(input)
            else:
                f = lambda input, dim=dim, keepdim=keepdim: fn(input, dim=dim, keepdim=keepdim)
            add(core_case(f'{op} dim={json.dumps(dim)} keepdim={str(keepdim).lower()}', op, {'input': x}, f, args))

    reduce_cases('sum', torch.sum, [(None, False), (1, False), ([0, 2], True), (-1, True)])
    reduce_cases('mean', torch.mean, [(None, False), ([1, 2], False), (0, True)])
    reduce_cases('amax', torch.amax, [(2, False), ([0, 1], True), (-1, True)])
    x = randn(2, 3, 4)
    add(core_case('amax all dims', 'amax', {'input': x}, lambda input: torch.amax(input), {'dim': None, 'keepdim': False}))
    for dim, corr, keepdim in [(None, 1, False), (1, 0, False), ([0, 2], 1, True), (-1, 0, True), (None, 0, False)]:
        x = randn(2, 3, 4)
        if dim is None:
            f = lambda input, corr=corr: torch.var(input, unbiased=(corr == 1))
        else:
            f = lambda input, dim=dim, corr=corr, keepdim=keepdim: torch.var(input, dim=dim, unbiased=(corr == 1), keepdim=keepdim)
        add(core_case(f'var dim={json.dumps(dim)} correction={corr} keepdim={str(keepdim).lower()}', 'var', {'input': x}, f, {'dim': dim, 'correction': corr, 'keepdim': keepdim}))
    for dim, keepdim in [(1, False), (-1, True), (0, False)]:
        x = randn(2, 3, 4)
        def f(input, dim=dim, keepdim=keepdim):
            v, i = torch.max(input, dim=dim, keepdim=keepdim)
            return {'values': v, 'indices': i}
        add(core_case(f'max dim={dim} keepdim={str(keepdim).lower()}', 'maxDim', {'input': x}, f, {'dim': dim, 'keepdim': keepdim}))

    # -- matmul
    for sa, sb, label in [
        ((3, 4), (4, 5), '2-D'),
        ((2, 1, 3, 4), (3, 4, 2), 'batched broadcast'),
        ((2, 3, 4), (4, 5), '3-D @ 2-D'),
        ((4,), (4,), '1-D @ 1-D'),
        ((4,), (4, 3), '1-D @ 2-D'),
        ((3, 4), (4,), '2-D @ 1-D'),
        ((4,), (2, 4, 3), '1-D @ 3-D'),
        ((2, 3, 4), (4,), '3-D @ 1-D'),
    ]:
        add(core_case(f'matmul {label} {list(sa)}@{list(sb)}', 'matmul', {'input': randn(*sa), 'other': randn(*sb)}, torch.matmul))

    # -- shape
    add(core_case('permute [2,0,1]', 'permute', {'input': randn(2, 3, 4)}, lambda input: input.permute(2, 0, 1), {'dims': [2, 0, 1]}))
    add(core_case('permute [1,3,0,2]', 'permute', {'input': randn(2, 3, 2, 4)}, lambda input: input.permute(1, 3, 0, 2), {'dims': [1, 3, 0, 2]}))
    add(core_case('transpose 0,2', 'transpose', {'input': randn(2, 3, 4)}, lambda input: input.transpose(0, 2), {'dim0': 0, 'dim1': 2}))
    add(core_case('transpose -1,-2', 'transpose', {'input': randn(2, 3, 4)}, lambda input: input.transpose(-1, -2), {'dim0': -1, 'dim1': -2}))
    add(core_case('cat dim 1', 'cat', {'tensors': [randn(2, 1, 4), randn(2, 3, 4), randn(2, 2, 4)]}, lambda tensors: torch.cat(tensors, 1), {'dim': 1}))
    add(core_case('cat dim 0', 'cat', {'tensors': [randn(1, 3), randn(2, 3)]}, lambda tensors: torch.cat(tensors, 0), {'dim': 0}))
    add(core_case('cat dim -1', 'cat', {'tensors': [randn(2, 3, 2), randn(2, 3, 1), randn(2, 3, 3)]}, lambda tensors: torch.cat(tensors, -1), {'dim': -1}))
    add(core_case('stack dim 0', 'stack', {'tensors': [randn(2, 3), randn(2, 3), randn(2, 3)]}, lambda tensors: torch.stack(tensors, 0), {'dim': 0}))
    add(core_case('stack dim -1', 'stack', {'tensors': [randn(2, 3), randn(2, 3)]}, lambda tensors: torch.stack(tensors, -1), {'dim': -1}))
    add(core_case('narrow dim 1', 'narrow', {'input': randn(4, 5)}, lambda input: input.narrow(1, 1, 3), {'dim': 1, 'start': 1, 'length': 3}))
    add(core_case('narrow dim 0', 'narrow', {'input': randn(3, 4, 2)}, lambda input: input.narrow(0, 2, 1), {'dim': 0, 'start': 2, 'length': 1}))
    add(core_case('indexSelect dim 0 with repeats', 'indexSelect', {'input': randn(4, 3), 'index': torch.tensor([2, 0, 2, 3])},
                  lambda input, index: input.index_select(0, index), {'dim': 0}))
    add(core_case('indexSelect dim 1', 'indexSelect', {'input': randn(2, 5, 3), 'index': torch.tensor([4, 1])},
                  lambda input, index: input.index_select(1, index), {'dim': 1}))

    # -- softmax / logSoftmax (a row with some -inf entries, never a fully masked one)
    masked = randn(4, 5)
    masked[1, 0] = -INF
    masked[1, 3] = -INF
    masked[3, 4] = -INF
    for op, fn in [('softmax', torch.softmax), ('logSoftmax', torch.log_softmax)]:
        add(core_case(f'{op} dim -1', op, {'input': randn(3, 5) * 2}, lambda input, fn=fn: fn(input, -1), {'dim': -1}))
        add(core_case(f'{op} dim 1 of 3-D', op, {'input': randn(2, 3, 4) * 2}, lambda input, fn=fn: fn(input, 1), {'dim': 1}))
        add(core_case(f'{op} rows with -inf entries', op, {'input': masked.clone()}, lambda input, fn=fn: fn(input, -1), {'dim': -1}))

    # -- layerNorm
    add(core_case('layerNorm (2,3,8) over [8]', 'layerNorm', {'input': randn(2, 3, 8) * 2 + 1, 'weight': randn(8), 'bias': randn(8)},
                  lambda input, weight, bias: F.layer_norm(input, [8], weight, bias, 1e-5), {'normalizedShape': [8], 'eps': 1e-5}))
    add(core_case('layerNorm (4,2,3) over [2,3]', 'layerNorm', {'input': randn(4, 2, 3), 'weight': randn(2, 3), 'bias': randn(2, 3)},
                  lambda input, weight, bias: F.layer_norm(input, [2, 3], weight, bias, 1e-5), {'normalizedShape': [2, 3], 'eps': 1e-5}))
    add(core_case('layerNorm no affine, eps 1e-3', 'layerNorm', {'input': randn(3, 6)},
                  lambda input: F.layer_norm(input, [6], None, None, 1e-3), {'normalizedShape': [6], 'eps': 1e-3}))

    # -- embedding
    idx = torch.tensor([[0, 3, 3, 7, 0], [9, 1, 3, 0, 5]])
    add(core_case('embedding paddingIdx 0', 'embedding', {'input': idx, 'weight': randn(10, 4)},
                  lambda input, weight: F.embedding(input, weight, padding_idx=0), {'paddingIdx': 0}))
    idx = torch.tensor([2, 5, 5, 1, 5])
    add(core_case('embedding paddingIdx -1 (= 5)', 'embedding', {'input': idx, 'weight': randn(6, 3)},
                  lambda input, weight: F.embedding(input, weight, padding_idx=-1), {'paddingIdx': -1}))
    idx = torch.tensor([[1, 1], [0, 2]])
    add(core_case('embedding no padding', 'embedding', {'input': idx, 'weight': randn(3, 5)},
                  lambda input, weight: F.embedding(input, weight), {'paddingIdx': None}))

    # -- crossEntropy
    def ce(name, shape, target, ignore_index=-100, ls=0.0, reduction='mean'):
        x = randn(*shape) * 1.5
        add(core_case(f'crossEntropy {name}', 'crossEntropy', {'input': x, 'target': target},
                      lambda input, target: F.cross_entropy(input, target, ignore_index=ignore_index, label_smoothing=ls, reduction=reduction),
                      {'ignoreIndex': ignore_index, 'labelSmoothing': ls, 'reduction': reduction}))

    ce('(N,C) mean', (6, 5), torch.tensor([0, 4, 2, 2, 1, 3]))
    ce('(N,C) sum ignoreIndex 2', (6, 5), torch.tensor([0, 2, 4, 2, 1, 3]), ignore_index=2, reduction='sum')
    ce('(N,C) mean ignoreIndex 2', (6, 5), torch.tensor([0, 2, 4, 2, 1, 3]), ignore_index=2)
    ce('(N,C) none labelSmoothing 0.1', (6, 5), torch.tensor([1, 0, 4, 3, 3, 2]), ls=0.1, reduction='none')
    ce('(N,C) mean labelSmoothing 0.2 ignoreIndex -100', (6, 5), torch.tensor([1, -100, 4, 3, -100, 2]), ls=0.2)
    ce('(N,C) sum labelSmoothing 0.1', (4, 3), torch.tensor([2, 0, 1, 1]), ls=0.1, reduction='sum')
    ce('(N,C,d) mean', (2, 4, 3), torch.tensor([[0, 3, 1], [2, 2, 0]]))
    ce('(N,C,d1,d2) none labelSmoothing 0.1 ignoreIndex 1', (2, 3, 2, 2), torch.tensor([[[0, 1], [2, 2]], [[1, 0], [0, 2]]]), ignore_index=1, ls=0.1, reduction='none')
    ce('(N,C,d) mean labelSmoothing 0.15 ignoreIndex 3', (3, 4, 2), torch.tensor([[0, 3], [1, 2], [3, 1]]), ignore_index=3, ls=0.15)
    ce('(C) unbatched, 0-d target', (5,), torch.tensor(3))

    # -- mseLoss
    for red in ['mean', 'sum', 'none']:
        add(core_case(f'mseLoss {red}', 'mseLoss', {'input': randn(3, 4), 'target': randn(3, 4)},
                      lambda input, target, red=red: F.mse_loss(input, target, reduction=red), {'reduction': red}))

    names = [c['name'] for c in cases]
    assert len(names) == len(set(names)), 'case names must be unique'
    return write_json('core.json', header('core'), 'cases', cases), len(cases)


# ---- scaled dot product attention ----------------------------------------------------------------

def sdpa_reference(query, key, value, attn_mask=None, is_causal=False, scale=None, enable_gqa=False):
    """PyTorch 2.7's documented formula (dropout 0), with PyTorch 2.5+'s handling of rows whose every
    score is -inf: their attention weights are 0 (output rows 0, gradients 0) instead of NaN."""
    L, S = query.size(-2), key.size(-2)
    scale_factor = 1 / math.sqrt(query.size(-1)) if scale is None else scale
    attn_bias = torch.zeros(L, S, dtype=query.dtype)
    if is_causal:
        assert attn_mask is None
        temp_mask = torch.ones(L, S, dtype=torch.bool).tril(diagonal=0)
        attn_bias = attn_bias.masked_fill(temp_mask.logical_not(), -INF)
    if attn_mask is not None:
        if attn_mask.dtype == torch.bool:
            attn_bias = torch.where(attn_mask, attn_bias, torch.tensor(-INF, dtype=query.dtype))
        else:
            attn_bias = attn_mask + attn_bias
    if enable_gqa:
        key = key.repeat_interleave(query.size(-3) // key.size(-3), -3)
        value = value.repeat_interleave(query.size(-3) // value.size(-3), -3)
    attn_weight = query @ key.transpose(-2, -1) * scale_factor
    attn_weight = attn_weight + attn_bias
    dead = torch.isneginf(attn_weight).all(dim=-1, keepdim=True)  # fully masked rows
    attn_weight = torch.softmax(attn_weight.masked_fill(dead, 0.0), dim=-1).masked_fill(dead, 0.0)
    return attn_weight @ value


def sdpa_case(name, q, k, v, attn_mask=None, is_causal=False, scale=None, enable_gqa=False):
    leaves = [t.detach().clone().requires_grad_(True) for t in (q, k, v)]
    mask_leaf = None
    if attn_mask is not None:
        mask_leaf = attn_mask.detach().clone()
        if mask_leaf.is_floating_point():
            mask_leaf.requires_grad_(True)
    out = sdpa_reference(*leaves, attn_mask=mask_leaf, is_causal=is_causal, scale=scale, enable_gqa=enable_gqa)
    g = randn(*out.shape)
    wrt = leaves + ([mask_leaf] if mask_leaf is not None and mask_leaf.requires_grad else [])
    grads = torch.autograd.grad(out, wrt, g)
    assert torch.isfinite(out).all() and all(torch.isfinite(x).all() for x in grads), name
    inputs = {'query': T(q), 'key': T(k), 'value': T(v)}
    if attn_mask is not None:
        inputs['attnMask'] = T(attn_mask)
    gj = {'query': T(grads[0]), 'key': T(grads[1]), 'value': T(grads[2])}
    if len(grads) > 3:
        gj['attnMask'] = T(grads[3])
    return {
        'name': name,
        'inputs': inputs,
        'options': {'isCausal': is_causal, 'scale': scale, 'enableGqa': enable_gqa},
        'gradOut': T(g),
        'output': T(out),
        'grads': gj,
    }


def make_sdpa():
    torch.manual_seed(2)
    cases = []
    add = cases.append
    add(sdpa_case('basic (2,3,5,8)', randn(2, 3, 5, 8), randn(2, 3, 5, 8), randn(2, 3, 5, 8)))
    add(sdpa_case('3-D (N,L,E) with L != S and Ev != E', randn(2, 3, 4), randn(2, 5, 4), randn(2, 5, 6)))
    add(sdpa_case('2-D (L,E) without batch', randn(3, 4), randn(5, 4), randn(5, 4)))
    add(sdpa_case('extra batch dims (2,3,2,4,6)', randn(2, 3, 2, 4, 6), randn(2, 3, 2, 4, 6), randn(2, 3, 2, 4, 6)))
    m = rand(3, 5) < 0.6
    m[:, 0] = True
    add(sdpa_case('bool mask (L,S) broadcast', randn(2, 2, 3, 4), randn(2, 2, 5, 4), randn(2, 2, 5, 4), attn_mask=m))
    m = rand(2, 1, 4, 5) < 0.6
    m[..., 2] = True
    add(sdpa_case('bool mask (N,1,L,S)', randn(2, 3, 4, 4), randn(2, 3, 5, 4), randn(2, 3, 5, 3), attn_mask=m))
    add(sdpa_case('float mask (N,Hq,L,S) with grad', randn(2, 2, 3, 4), randn(2, 2, 4, 4), randn(2, 2, 4, 4), attn_mask=randn(2, 2, 3, 4)))
    add(sdpa_case('float mask (3,1,4,4) with extra batch dims', randn(2, 3, 2, 4, 6), randn(2, 3, 2, 4, 6), randn(2, 3, 2, 4, 6), attn_mask=randn(3, 1, 4, 4)))
    fm = randn(2, 1, 3, 4)
    fm[0, 0, 0, 1] = -INF
    fm[1, 0, 2, :] = -INF
    add(sdpa_case('float mask with -inf entries and a fully -inf row', randn(2, 2, 3, 4), randn(2, 2, 4, 4), randn(2, 2, 4, 4), attn_mask=fm))
    add(sdpa_case('isCausal square', randn(2, 2, 4, 4), randn(2, 2, 4, 4), randn(2, 2, 4, 4), is_causal=True))
    add(sdpa_case('isCausal L<S (upper-left aligned)', randn(2, 2, 3, 4), randn(2, 2, 5, 4), randn(2, 2, 5, 4), is_causal=True))
    add(sdpa_case('isCausal L>S (upper-left aligned)', randn(2, 2, 5, 4), randn(2, 2, 3, 4), randn(2, 2, 3, 4), is_causal=True))
    add(sdpa_case('scale 0.3', randn(2, 2, 3, 4), randn(2, 2, 3, 4), randn(2, 2, 3, 4), scale=0.3))
    add(sdpa_case('scale 0', randn(2, 2, 3, 4), randn(2, 2, 3, 4), randn(2, 2, 3, 4), scale=0.0))
    m = rand(2, 1, 4, 5) < 0.6
    m[..., 1] = True
    m[0, 0, 1, :] = False
    m[1, 0, 3, :] = False
    add(sdpa_case('bool mask with fully masked rows', randn(2, 2, 4, 4), randn(2, 2, 5, 4), randn(2, 2, 5, 4), attn_mask=m))
    add(sdpa_case('GQA Hq=4 H=2', randn(2, 4, 3, 4), randn(2, 2, 5, 4), randn(2, 2, 5, 4), enable_gqa=True))
    m = rand(3, 5) < 0.6
    m[:, 4] = True
    add(sdpa_case('GQA Hq=4 H=2 with bool mask and scale 0.25', randn(1, 4, 3, 4), randn(1, 2, 5, 4), randn(1, 2, 5, 6), attn_mask=m, scale=0.25, enable_gqa=True))
    return write_json('sdpa.json', header('sdpa', {
        'notes': 'attnMask: bool True = takes part, float = added to the scores. Fully masked rows give output 0 and gradient 0 (PyTorch 2.5+).'
    }), 'cases', cases), len(cases)


# ---- nn.MultiheadAttention -----------------------------------------------------------------------

def randomize(module, scale=0.4):
    """Replaces every parameter with random values (PyTorch's init zeroes biases: too weak a test)."""
    with torch.no_grad():
        for name, p in module.named_parameters():
            if name.endswith('weight') and p.dim() == 1:  # LayerNorm weight
                p.copy_(1 + 0.2 * torch.randn(p.shape, dtype=torch.float64))
            else:
                p.copy_(scale * torch.randn(p.shape, dtype=torch.float64))


def state_json(module):
    return {k: T(v) for k, v in module.state_dict().items()}


def param_grads(module):
    out = {}
    for k, p in module.named_parameters():
        out[k] = T(p.grad if p.grad is not None else torch.zeros_like(p))
    return out


def mha_case(name, ctor, L, S, N, kwargs=None, self_attn=False, dtype=torch.float64):
    kwargs = dict(kwargs or {})
    E = ctor['embed_dim']
    kdim = ctor.get('kdim') or E
    vdim = ctor.get('vdim') or E
    batch_first = ctor.get('batch_first', False)
    m = nn.MultiheadAttention(dropout=0.0, **ctor)
    randomize(m)
    m = m.to(dtype).eval()

    def shaped(length, d):
        if N is None:
            return randn(length, d)
        return randn(N, length, d) if batch_first else randn(length, N, d)

    q = shaped(L, E)
    if self_attn:
        k, v = q.clone(), q.clone()
    else:
        k, v = shaped(S, kdim), shaped(S, vdim)
    q, k, v = (t.to(dtype) for t in (q, k, v))
    leaves = [t.clone().requires_grad_(True) for t in (q, k, v)]
    fkw = {}
    for key in ('key_padding_mask', 'attn_mask'):
        if kwargs.get(key) is not None:
            t = kwargs[key]
            fkw[key] = t.to(dtype) if t.is_floating_point() else t
    fkw['need_weights'] = kwargs.get('need_weights', True)
    fkw['average_attn_weights'] = kwargs.get('average_attn_weights', True)
    out, weights = m(*leaves, **fkw)
    assert torch.isfinite(out).all(), name
    g = randn(*out.shape).to(dtype)
    m.zero_grad()
    out.backward(g)
    ctor_js = {
        'embedDim': E,
        'numHeads': ctor['num_heads'],
        'bias': ctor.get('bias', True),
        'addBiasKv': ctor.get('add_bias_kv', False),
        'addZeroAttn': ctor.get('add_zero_attn', False),
        'kdim': ctor.get('kdim'),
        'vdim': ctor.get('vdim'),
        'batchFirst': batch_first,
    }
    kw_js = {'needWeights': fkw['need_weights'], 'averageAttnWeights': fkw['average_attn_weights']}
    if 'key_padding_mask' in fkw:
        kw_js['keyPaddingMask'] = T(fkw['key_padding_mask'])
    if 'attn_mask' in fkw:
        kw_js['attnMask'] = T(fkw['attn_mask'])
    grads = {'query': T(leaves[0].grad), 'key': T(leaves[1].grad), 'value': T(leaves[2].grad)}
    case = {
        'name': name,
        'dtype': dtype_name(q),
        'selfAttention': self_attn,
        'ctor': ctor_js,
        'stateDict': state_json(m),
        'inputs': {'query': T(q), 'key': T(k), 'value': T(v)},
        'kwargs': kw_js,
        'gradOut': T(g),
        'output': T(out),
        'attnWeights': T_or_none(weights),
        'grads': grads,
        'paramGrads': param_grads(m),
    }
    if self_attn:
        case['gradSelf'] = T(leaves[0].grad + leaves[1].grad + leaves[2].grad)
    return case


def make_mha():
    torch.manual_seed(3)
    cases = []
    add = cases.append
    E, H = 8, 2
    base = {'embed_dim': E, 'num_heads': H}
    L, S, N = 4, 5, 2

    def kpm(n=N, s=S):
        m = rand(n, s) < 0.35
        m[:, 0] = False  # never a fully masked row
        return m

    def bool_attn(l=L, s=S):
        m = rand(l, s) < 0.35
        m[:, 1] = False
        return m

    add(mha_case('self-attention, batchFirst false', dict(base), L, L, N, self_attn=True))
    add(mha_case('self-attention, batchFirst true', dict(base, batch_first=True), L, L, N, self_attn=True))
    add(mha_case('unbatched 2-D input with keyPaddingMask (S)', dict(base), L, S, None, {'key_padding_mask': torch.tensor([False, True, False, False, True])}))
    add(mha_case('cross-attention, kdim 6 vdim 5 (separate projections)', dict(base, kdim=6, vdim=5), 3, S, N))
    add(mha_case('keyPaddingMask bool', dict(base), L, S, N, {'key_padding_mask': kpm()}))
    fk = randn(N, S) * 0.5
    fk[0, 3] = -INF
    add(mha_case('keyPaddingMask float (added)', dict(base, batch_first=True), L, S, N, {'key_padding_mask': fk}))
    add(mha_case('attnMask bool (L,S) (True = masked)', dict(base), L, S, N, {'attn_mask': bool_attn()}))
    fa = randn(L, S)
    fa[2, 4] = -INF
    add(mha_case('attnMask float (L,S)', dict(base), L, S, N, {'attn_mask': fa}))
    add(mha_case('attnMask float 3-D (N*numHeads,L,S)', dict(base, batch_first=True), L, S, N, {'attn_mask': randn(N * H, L, S)}))
    add(mha_case('attnMask bool (L,S) and keyPaddingMask bool', dict(base), L, S, N, {'attn_mask': bool_attn(), 'key_padding_mask': kpm()}))
    add(mha_case('attnMask float (L,S) and keyPaddingMask bool', dict(base, batch_first=True), L, S, N, {'attn_mask': randn(L, S), 'key_padding_mask': kpm()}))
    add(mha_case('addBiasKv', dict(base, add_bias_kv=True), L, S, N))
    add(mha_case('addZeroAttn', dict(base, add_zero_attn=True), L, S, N))
    km = rand(N, S) < 0.5
    km[:, :] = True
    km[0, 2] = False  # mostly padded keys: bias_k and the zero key carry the weight
    add(mha_case('addBiasKv + addZeroAttn with keyPaddingMask', dict(base, add_bias_kv=True, add_zero_attn=True), L, S, N, {'key_padding_mask': km}))
    add(mha_case('needWeights false', dict(base), L, S, N, {'need_weights': False}))
    add(mha_case('averageAttnWeights false', dict(base, batch_first=True), L, S, N, {'average_attn_weights': False}))
    add(mha_case('bias false', dict(base, bias=False), L, S, N))
    add(mha_case('float32 self-attention, batchFirst true', dict(base, batch_first=True), L, L, N, self_attn=True, dtype=torch.float32))
    add(mha_case('float32 cross-attention kdim/vdim, masks', dict(base, kdim=6, vdim=5, batch_first=True), 3, S, N,
                 {'key_padding_mask': kpm(), 'attn_mask': randn(3, S)}, dtype=torch.float32))
    return write_json('mha.json', header('mha', {
        'notes': 'nn.MultiheadAttention, dropout 0, eval mode. Bool masks: True = masked out (not allowed to attend).'
    }), 'cases', cases), len(cases)


# ---- transformer layers --------------------------------------------------------------------------

def causal_float_mask(n):
    return torch.triu(torch.full((n, n), -INF), diagonal=1)


def causal_bool_mask(n):
    return torch.ones(n, n, dtype=torch.bool).triu(1)  # True = masked


def tr_case(name, kind, module, ctor_js, inputs, kwargs):
    """kind: encoderLayer | encoder | decoderLayer. inputs: ordered dict of the positional inputs."""
    module.train()  # dropout is 0; train mode keeps PyTorch 1.13 off its fused eval fast path
    leaves = {k: v.detach().clone().requires_grad_(True) for k, v in inputs.items()}
    torch_kw = {k: v for k, (_, v) in kwargs.items()}
    out = module(*leaves.values(), **torch_kw)
    assert torch.isfinite(out).all(), name
    g = randn(*out.shape)
    module.zero_grad()
    out.backward(g)
    return {
        'name': name,
        'module': kind,
        'ctor': ctor_js,
        'stateDict': state_json(module),
        'inputs': {k: T(v) for k, v in inputs.items()},
        'kwargs': {js: T(v) for js, v in kwargs.values()},
        'gradOut': T(g),
        'output': T(out),
        'inputGrads': {k: T(l.grad) for k, l in leaves.items()},
        'paramGrads': param_grads(module),
    }


def make_transformer():
    torch.manual_seed(4)
    cases = []
    add = cases.append
    D, NH, FF = 8, 2, 16
    S, T_, N = 5, 4, 2

    def enc_layer(norm_first, activation, batch_first):
        m = nn.TransformerEncoderLayer(D, NH, dim_feedforward=FF, dropout=0.0, activation=activation,
                                       batch_first=batch_first, norm_first=norm_first)
        randomize(m)
        ctor = {'dModel': D, 'nhead': NH, 'dimFeedforward': FF, 'dropout': 0.0, 'activation': activation,
                'layerNormEps': 1e-5, 'batchFirst': batch_first, 'normFirst': norm_first}
        return m, ctor

    def seq(length, d=D, batch_first=False):
        return randn(N, length, d) if batch_first else randn(length, N, d)

    def kpm(length):
        m = rand(N, length) < 0.35
        m[:, 0] = False
        return m

    for norm_first, act, bf in [(False, 'relu', False), (True, 'relu', True), (False, 'gelu', True), (True, 'gelu', False)]:
        m, ctor = enc_layer(norm_first, act, bf)
        add(tr_case(f'encoderLayer normFirst={str(norm_first).lower()} {act} batchFirst={str(bf).lower()}', 'encoderLayer', m, ctor,
                    {'src': seq(S, batch_first=bf)}, {}))
    m, ctor = enc_layer(False, 'relu', True)
    add(tr_case('encoderLayer causal srcMask (float -inf)', 'encoderLayer', m, ctor, {'src': seq(S, batch_first=True)},
                {'src_mask': ('srcMask', causal_float_mask(S))}))
    m, ctor = enc_layer(True, 'gelu', True)
    add(tr_case('encoderLayer srcKeyPaddingMask bool', 'encoderLayer', m, ctor, {'src': seq(S, batch_first=True)},
                {'src_key_padding_mask': ('srcKeyPaddingMask', kpm(S))}))

    def encoder(norm_first, bf):
        layer = nn.TransformerEncoderLayer(D, NH, dim_feedforward=FF, dropout=0.0, activation='relu',
                                           batch_first=bf, norm_first=norm_first)
        m = nn.TransformerEncoder(layer, num_layers=2, norm=nn.LayerNorm(D))
        randomize(m)  # the layers are deep copies of one layer: give each its own values
        ctor = {'encoderLayer': {'dModel': D, 'nhead': NH, 'dimFeedforward': FF, 'dropout': 0.0, 'activation': 'relu',
                                 'layerNormEps': 1e-5, 'batchFirst': bf, 'normFirst': norm_first},
                'numLayers': 2, 'norm': {'normalizedShape': [D], 'eps': 1e-5}}
        return m, ctor

    m, ctor = encoder(False, False)
    add(tr_case('encoder 2 layers + final LayerNorm', 'encoder', m, ctor, {'src': seq(S)}, {}))
    m, ctor = encoder(True, True)
    add(tr_case('encoder 2 layers normFirst, causal mask bool + srcKeyPaddingMask', 'encoder', m, ctor, {'src': seq(S, batch_first=True)},
                {'mask': ('mask', causal_bool_mask(S)), 'src_key_padding_mask': ('srcKeyPaddingMask', kpm(S))}))

    def dec_layer(norm_first, bf, activation='relu'):
        m = nn.TransformerDecoderLayer(D, NH, dim_feedforward=FF, dropout=0.0, activation=activation,
                                       batch_first=bf, norm_first=norm_first)
        randomize(m)
        ctor = {'dModel': D, 'nhead': NH, 'dimFeedforward': FF, 'dropout': 0.0, 'activation': activation,
                'layerNormEps': 1e-5, 'batchFirst': bf, 'normFirst': norm_first}
        return m, ctor

    m, ctor = dec_layer(False, False)
    add(tr_case('decoderLayer normFirst=false', 'decoderLayer', m, ctor, {'tgt': seq(T_), 'memory': seq(S)}, {}))
    m, ctor = dec_layer(True, True, 'gelu')
    add(tr_case('decoderLayer normFirst=true gelu batchFirst', 'decoderLayer', m, ctor,
                {'tgt': seq(T_, batch_first=True), 'memory': seq(S, batch_first=True)}, {}))
    m, ctor = dec_layer(False, True)
    add(tr_case('decoderLayer causal tgtMask (float -inf) + memoryKeyPaddingMask', 'decoderLayer', m, ctor,
                {'tgt': seq(T_, batch_first=True), 'memory': seq(S, batch_first=True)},
                {'tgt_mask': ('tgtMask', causal_float_mask(T_)), 'memory_key_padding_mask': ('memoryKeyPaddingMask', kpm(S))}))
    m, ctor = dec_layer(True, False)
    add(tr_case('decoderLayer normFirst=true causal tgtMask bool + tgtKeyPaddingMask', 'decoderLayer', m, ctor,
                {'tgt': seq(T_), 'memory': seq(S)},
                {'tgt_mask': ('tgtMask', causal_bool_mask(T_)), 'tgt_key_padding_mask': ('tgtKeyPaddingMask', kpm(T_))}))
    return write_json('transformer.json', header('transformer', {
        'notes': 'dropout 0, computed in train() mode (the plain math path). Bool masks: True = masked out.'
    }), 'cases', cases), len(cases)


# ---- optimizers, schedulers, gradient clipping -----------------------------------------------------

def optim_case(name, cls, options_js, torch_kwargs, steps=4):
    p0, p1 = randn(3, 2), randn(4)
    params = [p0.clone().requires_grad_(True), p1.clone().requires_grad_(True)]
    opt = cls(params, **torch_kwargs)
    rec = []
    for _ in range(steps):
        gs = [randn(*p.shape) for p in params]
        for p, g in zip(params, gs):
            p.grad = g.clone()
        opt.step()
        rec.append({'grads': [T(g) for g in gs], 'params': [T(p) for p in params]})
    return {'name': name, 'optimizer': cls.__name__, 'options': options_js, 'params': [T(p0), T(p1)], 'steps': rec}


def make_optim():
    torch.manual_seed(5)
    opt_cases = []
    add = opt_cases.append
    for lr, mom, damp, nest, wd in [
        (0.1, 0.0, 0.0, False, 0.0),
        (0.1, 0.9, 0.0, False, 0.0),
        (0.05, 0.9, 0.1, False, 0.01),
        (0.1, 0.9, 0.0, True, 0.0),
        (0.1, 0.5, 0.0, True, 0.1),
        (0.2, 0.0, 0.0, False, 0.05),
    ]:
        add(optim_case(f'SGD lr={lr} momentum={mom} dampening={damp} nesterov={str(nest).lower()} weightDecay={wd}', torch.optim.SGD,
                       {'lr': lr, 'momentum': mom, 'dampening': damp, 'nesterov': nest, 'weightDecay': wd},
                       dict(lr=lr, momentum=mom, dampening=damp, nesterov=nest, weight_decay=wd)))
    for lr, betas, eps, wd in [(0.01, (0.9, 0.999), 1e-8, 0.0), (0.05, (0.8, 0.99), 1e-6, 0.05)]:
        add(optim_case(f'Adam lr={lr} betas={list(betas)} eps={eps} weightDecay={wd}', torch.optim.Adam,
                       {'lr': lr, 'betas': list(betas), 'eps': eps, 'weightDecay': wd, 'amsgrad': False},
                       dict(lr=lr, betas=betas, eps=eps, weight_decay=wd, amsgrad=False), steps=5))
    for lr, betas, eps, wd in [(0.01, (0.9, 0.999), 1e-8, 0.1), (0.05, (0.85, 0.95), 1e-8, 0.1)]:
        add(optim_case(f'AdamW lr={lr} betas={list(betas)} weightDecay={wd}', torch.optim.AdamW,
                       {'lr': lr, 'betas': list(betas), 'eps': eps, 'weightDecay': wd, 'amsgrad': False},
                       dict(lr=lr, betas=betas, eps=eps, weight_decay=wd, amsgrad=False), steps=5))

    sched_cases = []
    for name, cls, opts_js, kw, lr in [
        ('StepLR stepSize=3 gamma=0.5', torch.optim.lr_scheduler.StepLR, {'stepSize': 3, 'gamma': 0.5}, dict(step_size=3, gamma=0.5), 0.1),
        ('CosineAnnealingLR tMax=10 etaMin=0', torch.optim.lr_scheduler.CosineAnnealingLR, {'tMax': 10, 'etaMin': 0.0}, dict(T_max=10, eta_min=0.0), 0.1),
        ('CosineAnnealingLR tMax=4 etaMin=0.01 (past tMax)', torch.optim.lr_scheduler.CosineAnnealingLR, {'tMax': 4, 'etaMin': 0.01}, dict(T_max=4, eta_min=0.01), 0.1),
    ]:
        p = torch.zeros(2, requires_grad=True)
        opt = torch.optim.SGD([p], lr=lr)
        sch = cls(opt, **kw)
        lrs = [sch.get_last_lr()[0]]
        for _ in range(10):
            opt.step()
            sch.step()
            lrs.append(sch.get_last_lr()[0])
        sched_cases.append({'name': name, 'scheduler': cls.__name__, 'lr': lr, 'options': opts_js, 'lrs': lrs})

    clip_cases = []
    for name, scale, max_norm, norm_type in [
        ('clipGradNorm maxNorm=1 normType=2 (clips)', 1.0, 1.0, 2.0),
        ('clipGradNorm maxNorm=1 normType=2 (below maxNorm, unchanged)', 0.1, 1.0, 2.0),
        ('clipGradNorm maxNorm=1 normType=inf (clips)', 1.0, 1.0, INF),
    ]:
        ps = [randn(3, 2).requires_grad_(True), randn(4).requires_grad_(True)]
        gs = [randn(3, 2) * scale, randn(4) * scale]
        for p, g in zip(ps, gs):
            p.grad = g.clone()
        total = torch.nn.utils.clip_grad_norm_(ps, max_norm=max_norm, norm_type=norm_type)
        clip_cases.append({'name': name, 'options': {'maxNorm': max_norm, 'normType': num(norm_type)},
                           'grads': [T(g) for g in gs], 'totalNorm': float(total), 'clippedGrads': [T(p.grad) for p in ps]})

    path = os.path.join(OUT, 'optim.json')
    h = header('optim')
    parts = [json.dumps(h, separators=(',', ':'))[:-1]]
    for key, cs in [('optimizers', opt_cases), ('schedulers', sched_cases), ('clipGradNorm', clip_cases)]:
        parts.append(json.dumps(key) + ':[\n' + ',\n'.join(json.dumps(c, separators=(',', ':'), allow_nan=False) for c in cs) + '\n]')
    body = ',\n'.join(parts) + '}\n'
    json.loads(body)
    with open(path, 'w') as f:
        f.write(body)
    size = os.path.getsize(path)
    print(f'optim.json: {len(opt_cases)} optimizers, {len(sched_cases)} schedulers, {len(clip_cases)} clipGradNorm, {size} bytes')
    return size, (len(opt_cases), len(sched_cases), len(clip_cases))


# ---- safetensors ---------------------------------------------------------------------------------

def write_safetensors(path, tensors, metadata=None):
    """The safetensors layout: u64 little-endian header length N, N bytes of JSON (padded with spaces
    to a multiple of 8), then the raw little-endian data; data_offsets are relative to the data start.
    Tensors are laid out in name order, as the reference implementation does for one dtype."""
    header_obj = {}
    if metadata:
        header_obj['__metadata__'] = metadata
    blobs = []
    offset = 0
    for name in sorted(tensors):
        t = tensors[name].detach().contiguous()
        assert t.dtype == torch.float32
        vals = t.reshape(-1).tolist()
        blob = struct.pack(f'<{len(vals)}f', *vals)
        header_obj[name] = {'dtype': 'F32', 'shape': list(t.shape), 'data_offsets': [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    hj = json.dumps(header_obj, separators=(',', ':')).encode('utf-8')
    hj += b' ' * ((8 - len(hj) % 8) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(hj)))
        f.write(hj)
        for b in blobs:
            f.write(b)
    return len(hj)


def read_safetensors(path):
    with open(path, 'rb') as f:
        raw = f.read()
    (n,) = struct.unpack('<Q', raw[:8])
    hdr = json.loads(raw[8:8 + n].decode('utf-8'))
    data = raw[8 + n:]
    out = {}
    for name, info in hdr.items():
        if name == '__metadata__':
            continue
        b, e = info['data_offsets']
        assert info['dtype'] == 'F32'
        vals = struct.unpack(f'<{(e - b) // 4}f', data[b:e])
        out[name] = torch.tensor(vals, dtype=torch.float32).reshape(info['shape'])
    return out, hdr, n, len(data)


def make_safetensors():
    torch.manual_seed(6)
    model = nn.Sequential(nn.Linear(4, 3), nn.Tanh(), nn.Linear(3, 2)).to(torch.float32).eval()
    sd = model.state_dict()
    path = os.path.join(OUT, 'linear_tanh.safetensors')
    metadata = {'format': 'pt', 'model': 'Sequential(Linear(4,3), Tanh(), Linear(3,2))'}
    n = write_safetensors(path, sd, metadata)
    back, hdr, n2, data_len = read_safetensors(path)
    assert n2 == n and (8 + n) % 8 == 0 and data_len == sum(t.numel() * 4 for t in sd.values())
    for k, t in sd.items():
        assert torch.equal(back[k], t), k
    try:
        from safetensors.torch import load_file  # optional cross-check
    except ImportError:
        print('safetensors: python package not importable, skipped its cross-check')
    else:
        loaded = load_file(path)
        assert set(loaded) == set(sd) and all(torch.equal(loaded[k], sd[k]) for k in sd)
        print('safetensors: the python package reads the file back identically')
    x = torch.randn(5, 4, dtype=torch.float64).to(torch.float32)
    with torch.no_grad():
        y = model(x)
    doc = header('safetensors', {
        'file': 'linear_tanh.safetensors',
        'model': 'nn.Sequential(nn.Linear(4,3), nn.Tanh(), nn.Linear(3,2)), float32',
        'fileSize': os.path.getsize(path),
        'headerLength': n,
        'header': hdr,
        'stateDict': {k: T(v) for k, v in sd.items()},
        'input': T(x),
        'output': T(y),
    })
    jpath = os.path.join(OUT, 'safetensors.json')
    with open(jpath, 'w') as f:
        f.write(json.dumps(doc, separators=(',', ':'), allow_nan=False) + '\n')
    print(f'linear_tanh.safetensors: {os.path.getsize(path)} bytes (header {n}); safetensors.json: {os.path.getsize(jpath)} bytes')


# ---- losses: class weights, label smoothing, ignoreIndex, probability targets ----------------------

def loss_case(name, op, x, target, weight=None, ignore_index=None, ls=None, reduction='mean', weight_grad=False):
    """op 'crossEntropy' (x: logits) or 'nllLoss' (x: log-probabilities). A float target (x's shape) holds
    class probabilities and is differentiable, as is the weight for such targets when weight_grad."""
    xl = x.detach().clone().requires_grad_(True)
    probs = target.is_floating_point()
    tl = target.detach().clone().requires_grad_(probs)
    wl = None if weight is None else weight.detach().clone().requires_grad_(weight_grad)
    kw = {'weight': wl, 'reduction': reduction}
    if ignore_index is not None:
        kw['ignore_index'] = ignore_index
    if ls is not None:
        kw['label_smoothing'] = ls
    fn = F.cross_entropy if op == 'crossEntropy' else F.nll_loss
    out = fn(xl, tl, **kw)
    leaves = [('input', xl)] + ([('target', tl)] if probs else []) + ([('weight', wl)] if weight_grad else [])
    g = randn(*out.shape)
    grads = torch.autograd.grad(out, [l for _, l in leaves], g)
    options = {'reduction': reduction}
    if ignore_index is not None:
        options['ignoreIndex'] = ignore_index
    if ls is not None:
        options['labelSmoothing'] = ls
    inputs = {'input': T(x), 'target': T(target)}
    if weight is not None:
        inputs['weight'] = T(weight)
    return {
        'name': name,
        'op': op,
        'targetKind': 'probabilities' if probs else 'indices',
        'options': options,
        'inputs': inputs,
        'output': T(out),
        'gradOut': T(g),
        'grads': {k: T(v) for (k, _), v in zip(leaves, grads)},
    }


def make_loss():
    torch.manual_seed(7)
    cases = []
    add = cases.append

    def logits(*shape):
        return randn(*shape) * 1.5

    def weights(c):
        return rand(c) * 1.5 + 0.25

    def probs(*shape):
        return torch.softmax(randn(*shape) * 2, dim=1 if len(shape) > 1 else 0)

    t6 = torch.tensor([0, 4, 2, 2, 1, 3])
    ti = torch.tensor([0, 2, 4, 2, 1, 3])
    w5 = weights(5)
    for red in ['mean', 'sum', 'none']:
        add(loss_case(f'crossEntropy (N,C) weight {red}', 'crossEntropy', logits(6, 5), t6, w5, reduction=red))
    for red in ['mean', 'sum', 'none']:
        add(loss_case(f'crossEntropy (N,C) weight ignoreIndex 2 {red}', 'crossEntropy', logits(6, 5), ti, w5, ignore_index=2, reduction=red))
    add(loss_case('crossEntropy (N,C) weight, default ignoreIndex -100 targets, mean', 'crossEntropy', logits(6, 5),
                  torch.tensor([1, -100, 4, 3, -100, 0]), w5))
    for red in ['mean', 'sum', 'none']:
        add(loss_case(f'crossEntropy (N,C) weight labelSmoothing 0.1 {red}', 'crossEntropy', logits(6, 5), t6, w5, ls=0.1, reduction=red))
    for red in ['mean', 'sum', 'none']:
        add(loss_case(f'crossEntropy (N,C) weight labelSmoothing 0.25 ignoreIndex 2 {red}', 'crossEntropy', logits(6, 5), ti, w5,
                      ignore_index=2, ls=0.25, reduction=red))
    add(loss_case('crossEntropy (N,C) labelSmoothing 0.2 ignoreIndex 2, no weight, mean', 'crossEntropy', logits(6, 5), ti, ls=0.2, ignore_index=2))
    add(loss_case('crossEntropy (N,C) weight with zeros, labelSmoothing 0.1, mean', 'crossEntropy', logits(4, 3),
                  torch.tensor([0, 1, 2, 1]), torch.tensor([0.0, 2.0, 0.5]), ls=0.1))
    add(loss_case('crossEntropy (N,C) weight labelSmoothing 1, mean', 'crossEntropy', logits(4, 3), torch.tensor([0, 1, 2, 1]), weights(3), ls=1.0))
    add(loss_case('crossEntropy (N,C,d) weight ignoreIndex 1 mean', 'crossEntropy', logits(2, 4, 3), torch.tensor([[0, 3, 1], [2, 1, 0]]),
                  weights(4), ignore_index=1))
    add(loss_case('crossEntropy (N,C,d) weight labelSmoothing 0.15 ignoreIndex 3 sum', 'crossEntropy', logits(3, 4, 2),
                  torch.tensor([[0, 3], [1, 2], [3, 1]]), weights(4), ignore_index=3, ls=0.15, reduction='sum'))
    add(loss_case('crossEntropy (N,C,d1,d2) weight labelSmoothing 0.1 none', 'crossEntropy', logits(2, 3, 2, 2),
                  torch.tensor([[[0, 1], [2, 2]], [[1, 0], [0, 2]]]), weights(3), ls=0.1, reduction='none'))
    add(loss_case('crossEntropy (N,C,d1,d2) weight labelSmoothing 0.1 mean', 'crossEntropy', logits(2, 3, 2, 2),
                  torch.tensor([[[0, 1], [2, 2]], [[1, 0], [0, 2]]]), weights(3), ls=0.1))
    add(loss_case('crossEntropy (C) unbatched weight labelSmoothing 0.2 mean', 'crossEntropy', logits(5), torch.tensor(3), weights(5), ls=0.2))
    # every target ignored: 'mean' is 0/0 = NaN (gradient 0), 'sum' is 0
    for kw in [dict(), dict(weight=weights(4)), dict(weight=weights(4), ls=0.1)]:
        for red in ['mean', 'sum']:
            desc = ' '.join(['weight' if 'weight' in kw else 'no weight'] + (['labelSmoothing 0.1'] if 'ls' in kw else []))
            add(loss_case(f'crossEntropy (N,C) every target ignored, {desc}, {red}', 'crossEntropy', logits(3, 4),
                          torch.tensor([-100, -100, -100]), reduction=red, **kw))
    # class-probability targets (float, the input's shape); 'mean' divides by the sample count
    for red in ['mean', 'sum', 'none']:
        add(loss_case(f'crossEntropy probabilities (N,C) {red}', 'crossEntropy', logits(4, 5), probs(4, 5), reduction=red))
    for red in ['mean', 'sum', 'none']:
        add(loss_case(f'crossEntropy probabilities (N,C) weight labelSmoothing 0.2 {red}', 'crossEntropy', logits(4, 5), probs(4, 5),
                      weights(5), ls=0.2, reduction=red, weight_grad=True))
    add(loss_case('crossEntropy probabilities (N,C) weight mean', 'crossEntropy', logits(4, 5), probs(4, 5), weights(5), weight_grad=True))
    add(loss_case('crossEntropy probabilities (N,C) unnormalised target, labelSmoothing 0.1 sum', 'crossEntropy', logits(3, 4),
                  rand(3, 4) * 2, ls=0.1, reduction='sum'))
    add(loss_case('crossEntropy probabilities (N,C,d) weight labelSmoothing 0.1 mean', 'crossEntropy', logits(2, 3, 4), probs(2, 3, 4),
                  weights(3), ls=0.1, weight_grad=True))
    add(loss_case('crossEntropy probabilities (N,C,d1,d2) weight none', 'crossEntropy', logits(2, 3, 2, 2), probs(2, 3, 2, 2), weights(3),
                  reduction='none', weight_grad=True))
    add(loss_case('crossEntropy probabilities (C) unbatched weight labelSmoothing 0.3 mean', 'crossEntropy', logits(5), probs(5), weights(5),
                  ls=0.3, weight_grad=True))
    # nllLoss on log-probabilities
    for red in ['mean', 'sum', 'none']:
        add(loss_case(f'nllLoss (N,C) weight ignoreIndex 2 {red}', 'nllLoss', F.log_softmax(logits(6, 5), 1), ti, w5, ignore_index=2, reduction=red))
    add(loss_case('nllLoss (N,C) weight mean (input not normalised)', 'nllLoss', randn(6, 5), t6, w5))
    add(loss_case('nllLoss (N,C,d) weight mean', 'nllLoss', F.log_softmax(logits(2, 4, 3), 1), torch.tensor([[0, 3, 1], [2, 2, 0]]), weights(4)))
    add(loss_case('nllLoss (C) unbatched weight none', 'nllLoss', F.log_softmax(logits(4), 0), torch.tensor(2), weights(4), reduction='none'))
    add(loss_case('nllLoss (N,C) every target ignored, weight, mean', 'nllLoss', F.log_softmax(logits(3, 4), 1), torch.tensor([1, 1, 1]),
                  weights(4), ignore_index=1))

    names = [c['name'] for c in cases]
    assert len(set(names)) == len(names), 'loss case names must be unique'
    h = header('loss', {'notes': 'F.cross_entropy / F.nll_loss in float64 with class weights, label smoothing, ignore_index, '
                                 'every reduction and class-probability targets; grads are torch.autograd.grad of output with gradOut'})
    return write_json('loss.json', h, 'cases', cases)


# ---- edge cases where a sign, a tie or a limit could hide a bug (issue: wrong results) -----------

def make_edge():
    torch.manual_seed(7)
    cases = []
    # pow: negative bases with integer exponents (the gradient's sign), zero bases, fractional exponents
    x = torch.tensor([-0.5, -2.0, 1.5, -3.0, 0.0, 2.0])
    for e in [2.0, 3.0, 4.0, -1.0, -2.0, 1.0, 0.0]:
        xi = x.clone().requires_grad_(True)
        y = xi.pow(e)
        y.sum().backward()
        cases.append({'name': f'pow {e}', 'op': 'pow', 'exponent': e, 'input': T(x), 'out': T(y), 'grad': T(xi.grad)})
    xp = torch.tensor([0.25, 1.5, 4.0]).requires_grad_(True)
    y = xp.pow(0.5)
    y.sum().backward()
    cases.append({'name': 'pow 0.5', 'op': 'pow', 'exponent': 0.5, 'input': T(xp), 'out': T(y), 'grad': T(xp.grad)})
    # softmax / logSoftmax: only -Infinity is masked; +Infinity and NaN make the row NaN
    rows = {
        'finite -2e30 row': [-2e30, -2e30, -2e30],
        'plus infinity': [INF, 1.0],
        'minus infinity masked': [-INF, 0.0, 1.0],
        'nan row': [float('nan'), 0.0, -INF],
        'ordinary': [0.5, -1.0, 2.0, 0.0],
    }
    for name, r in rows.items():
        for op in ['softmax', 'logSoftmax']:
            xr = torch.tensor(r).requires_grad_(True)
            y = torch.softmax(xr, 0) if op == 'softmax' else torch.log_softmax(xr, 0)
            g = torch.linspace(-1, 1, len(r))
            y.backward(g)
            cases.append({'name': f'{op} {name}', 'op': op, 'input': T(xr), 'gradOut': T(g), 'out': T(y), 'grad': T(xr.grad)})
    # crossEntropy on logits of huge magnitude: ln 2, not 1e30
    logits = torch.tensor([[-2e30, -2e30], [1e30, 1e30]]).requires_grad_(True)
    target = torch.tensor([0, 1])
    y = F.cross_entropy(logits, target)
    y.backward()
    cases.append({'name': 'crossEntropy huge logits', 'op': 'crossEntropy', 'input': T(logits), 'target': T(target), 'out': T(y), 'grad': T(logits.grad)})
    write_json('edge.json', header('edge'), 'cases', cases)


# ---- indexing and sorting (tril/triu, gather/scatter, flip/roll/cumsum, sort/argsort/topk) ------------

def make_indexing():
    torch.manual_seed(8)
    cases = []
    add = cases.append
    NAN = float('nan')

    def idx(v):
        return torch.tensor(v, dtype=torch.int64)

    # tril / triu: diagonal offsets, non-square, batch dims
    for op in ['tril', 'triu']:
        f = torch.tril if op == 'tril' else torch.triu
        for shape, diag in [((4, 4), 0), ((3, 5), 1), ((5, 3), -1), ((2, 3, 4), 2), ((2, 2, 3, 3), -2), ((3, 4), -5), ((3, 4), 7)]:
            add(core_case(f'{op} {list(shape)} diagonal={diag}', op, {'input': randn(*shape)},
                          lambda input, f=f, diag=diag: f(input, diag), {'diagonal': diag}))
    # gather: negative dim, index smaller than input off dim, repeats
    add(core_case('gather dim=1 repeats', 'gather', {'input': randn(3, 4), 'index': idx([[0, 0, 3], [1, 2, 1], [3, 3, 3]])},
                  lambda input, index: torch.gather(input, 1, index), {'dim': 1}))
    add(core_case('gather dim=0 smaller index', 'gather', {'input': randn(4, 5), 'index': idx([[3, 0], [1, 1], [2, 3]])},
                  lambda input, index: torch.gather(input, 0, index), {'dim': 0}))
    add(core_case('gather dim=-1 3-D', 'gather', {'input': randn(2, 3, 4), 'index': torch.randint(0, 4, (2, 2, 6))},
                  lambda input, index: torch.gather(input, -1, index), {'dim': -1}))
    add(core_case('gather dim=-2 3-D', 'gather', {'input': randn(2, 5, 3), 'index': torch.randint(0, 5, (1, 7, 3))},
                  lambda input, index: torch.gather(input, -2, index), {'dim': -2}))
    # scatter with a src tensor (unique targets; src larger than index), with a number, scatterAdd with repeats
    add(core_case('scatter dim=0 index smaller than input', 'scatter',
                  {'input': randn(3, 5), 'index': idx([[0, 1, 2, 0], [2, 0, 1, 1]]), 'src': randn(2, 4)},
                  lambda input, index, src: torch.scatter(input, 0, index, src), {'dim': 0}))
    add(core_case('scatter dim=-1 3-D', 'scatter',
                  {'input': randn(2, 3, 4), 'index': idx([[[3, 0], [1, 2], [0, 3]], [[2, 1], [0, 1], [3, 2]]]), 'src': randn(2, 3, 2)},
                  lambda input, index, src: torch.scatter(input, -1, index, src), {'dim': -1}))
    add(core_case('scatter value=-2.5', 'scatter', {'input': randn(3, 4), 'index': idx([[1, 3], [0, 0], [2, 1]])},
                  lambda input, index: torch.scatter(input, 1, index, -2.5), {'dim': 1, 'value': -2.5}))
    add(core_case('scatterAdd dim=0 repeats', 'scatterAdd',
                  {'input': randn(3, 4), 'index': idx([[0, 1, 2, 0], [0, 0, 1, 2], [0, 2, 2, 2]]), 'src': randn(3, 4)},
                  lambda input, index, src: torch.scatter_add(input, 0, index, src), {'dim': 0}))
    add(core_case('scatterAdd dim=-1 smaller index', 'scatterAdd',
                  {'input': randn(3, 5), 'index': idx([[4, 4, 0], [1, 1, 1]]), 'src': randn(2, 3)},
                  lambda input, index, src: torch.scatter_add(input, -1, index, src), {'dim': -1}))
    # flip / roll / cumsum
    for dims in [[0], [-1], [0, 2], [1, -1, 0]]:
        add(core_case(f'flip dims={dims}', 'flip', {'input': randn(2, 3, 4)}, lambda input, dims=dims: torch.flip(input, dims), {'dims': dims}))
    for shifts, dims in [(2, None), (-7, None), (1, 0), (-1, -1), ([1, 2], [0, 2]), ([5, -3], [1, 1]), ([4, 1], [-2, 0])]:
        add(core_case(f'roll shifts={shifts} dims={dims}', 'roll', {'input': randn(2, 3, 4)},
                      lambda input, shifts=shifts, dims=dims: torch.roll(input, shifts) if dims is None else torch.roll(input, shifts, dims),
                      {'shifts': shifts, 'dims': dims}))
    for shape, dim in [((6,), 0), ((3, 5), 1), ((3, 5), -2), ((2, 3, 4), 1), ((2, 3, 4), -1)]:
        add(core_case(f'cumsum {list(shape)} dim={dim}', 'cumsum', {'input': randn(*shape)}, lambda input, dim=dim: torch.cumsum(input, dim), {'dim': dim}))
    # sort (stable), with ties, NaN and infinities, descending, negative dims; argsort
    tied = torch.tensor([[2.0, NAN, 1.0, NAN, 2.0, -INF, INF, 1.0], [0.5, 0.5, 0.5, -1.0, NAN, 3.0, 0.5, -1.0]])
    for dim, desc in [(-1, False), (-1, True), (1, False)]:
        add(core_case(f'sort ties NaN dim={dim} descending={str(desc).lower()}', 'sort', {'input': tied},
                      lambda input, dim=dim, desc=desc: dict(zip(['values', 'indices'], torch.sort(input, dim=dim, descending=desc, stable=True))),
                      {'dim': dim, 'descending': desc}))
    x3 = torch.round(randn(3, 4, 5) * 2) / 2  # many ties
    for dim, desc in [(0, False), (-2, True), (1, False), (-1, True)]:
        add(core_case(f'sort 3-D ties dim={dim} descending={str(desc).lower()}', 'sort', {'input': x3},
                      lambda input, dim=dim, desc=desc: dict(zip(['values', 'indices'], torch.sort(input, dim=dim, descending=desc, stable=True))),
                      {'dim': dim, 'descending': desc}))
    for dim, desc in [(-1, False), (0, True)]:
        add(core_case(f'argsort ties NaN dim={dim} descending={str(desc).lower()}', 'argsort', {'input': tied},
                      lambda input, dim=dim, desc=desc: torch.argsort(input, dim=dim, descending=desc, stable=True),
                      {'dim': dim, 'descending': desc}))
    # topk: distinct values (the order is fully defined), smallest, NaN, negative dim, k = n, k = 0
    distinct = randn(3, 7)
    for k, dim, largest in [(3, -1, True), (2, -1, False), (7, 1, True), (2, 0, True), (1, -2, False), (0, -1, True)]:
        add(core_case(f'topk k={k} dim={dim} largest={str(largest).lower()}', 'topk', {'input': distinct},
                      lambda input, k=k, dim=dim, largest=largest: dict(zip(['values', 'indices'], torch.topk(input, k, dim=dim, largest=largest))),
                      {'k': k, 'dim': dim, 'largest': largest}))
    withnan = torch.tensor([[2.0, NAN, 1.0, 5.0, -INF], [INF, -3.0, 0.0, NAN, 4.0]])
    for k, largest in [(2, True), (3, False)]:
        add(core_case(f'topk NaN k={k} largest={str(largest).lower()}', 'topk', {'input': withnan},
                      lambda input, k=k, largest=largest: dict(zip(['values', 'indices'], torch.topk(input, k, largest=largest))),
                      {'k': k, 'dim': -1, 'largest': largest}))
    # ties: PyTorch's tie order is unspecified, so only the values are compared (tieOrder marks them)
    ties = torch.tensor([[1.0, 3.0, 3.0, 2.0, 3.0, 1.0, 3.0, 0.0, 3.0], [0.0, 0.0, 1.0, 0.0, 2.0, 2.0, 0.0, 1.0, 0.0]])
    for k, largest in [(5, True), (4, False)]:
        c = core_case(f'topk ties k={k} largest={str(largest).lower()}', 'topk', {'input': ties},
                      lambda input, k=k, largest=largest: dict(zip(['values', 'indices'], torch.topk(input, k, largest=largest))),
                      {'k': k, 'dim': -1, 'largest': largest})
        c['tieOrder'] = 'unspecified'
        add(c)
    h = header('indexing', {'notes': 'tril/triu, gather/scatter/scatter_add, flip/roll/cumsum, sort (stable=True)/argsort/topk in float64; '
                                     'grads are torch.autograd.grad of the float outputs with gradOut; tieOrder "unspecified" cases: compare values only'})
    return write_json('indexing.json', h, 'cases', cases)


def make_extra():
    """clamp/clip, silu, select/index, where with numbers, norm/normalize/outer, rms_norm (by its formula:
    torch 1.13 has no RMSNorm), one_hot, isclose and einsum."""
    torch.manual_seed(9)
    cases = []
    add = cases.append
    NAN = float('nan')
    # clamp: values exactly at the bounds (the gradient is 1 there), NaN input, min > max, one-sided, tensor bounds
    xb = torch.tensor([[-2.0, -1.0, -0.5, 0.0, 0.5, 1.0, 2.0], [NAN, 1.0, -1.0, 3.0, -3.0, 0.25, -0.25]])
    for mn, mx in [(-1.0, 1.0), (-0.5, None), (None, 0.5), (1.0, -1.0), (0.0, 0.0), ('-Infinity', 'Infinity')]:
        lo = None if mn is None else (-INF if mn == '-Infinity' else mn)
        hi = None if mx is None else (INF if mx == 'Infinity' else mx)
        add(core_case(f'clamp min={mn} max={mx}', 'clamp', {'input': xb}, lambda input, lo=lo, hi=hi: torch.clamp(input, lo, hi),
                      {'min': mn, 'max': mx}))
    add(core_case('clamp min=NaN', 'clamp', {'input': xb}, lambda input: torch.clamp(input, min=NAN), {'min': 'NaN', 'max': None}))
    xt = torch.round(randn(3, 4) * 2) / 2
    add(core_case('clamp tensor bounds with NaN', 'clamp', {'input': torch.tensor([0.5, -3.0, 2.0, NAN]), 'min': torch.tensor([NAN, -1.0, 0.0, 0.0]), 'max': torch.tensor([1.0, NAN, 1.0, 1.0])},
                  lambda input, min, max: torch.clamp(input, min, max), {}))
    add(core_case('clamp tensor min and max, broadcast', 'clamp', {'input': xt, 'min': torch.tensor([-0.5, 0.0, -1.0, 0.5]), 'max': torch.tensor([[0.5], [1.0], [-2.0]])},
                  lambda input, min, max: torch.clamp(input, min, max), {}))
    add(core_case('clamp tensor min only', 'clamp', {'input': xt, 'min': torch.round(randn(3, 4) * 2) / 2},
                  lambda input, min: torch.clamp(input, min=min), {}))
    add(core_case('clip tensor max only', 'clip', {'input': xt, 'max': torch.round(randn(4) * 2) / 2},
                  lambda input, max: torch.clip(input, max=max), {}))
    # silu: large negative and positive, 0
    add(core_case('silu', 'silu', {'input': torch.tensor([-100.0, -30.0, -5.0, -1.0, -1e-3, 0.0, 1e-3, 1.0, 5.0, 30.0, 100.0])},
                  lambda input: F.silu(input)))
    add(core_case('silu 2-D', 'silu', {'input': randn(3, 5) * 3}, lambda input: F.silu(input)))
    # select / basic indexing
    x3 = randn(2, 3, 4)
    for dim, i in [(0, 1), (1, -1), (-1, 0), (2, -4)]:
        add(core_case(f'select dim={dim} index={i}', 'select', {'input': x3}, lambda input, dim=dim, i=i: torch.select(input, dim, i), {'dim': dim, 'index': i}))
    for desc, ix, fn in [(':, -1', [None, -1], lambda t: t[:, -1]), ('1', [1], lambda t: t[1]), ('-1, 1:3, ::2', [-1, [1, 3], [None, None, 2]], lambda t: t[-1, 1:3, ::2]),
                         (':, -5:10, 1', [None, [-5, 10], 1], lambda t: t[:, -5:10, 1]), ('0, 2, 3', [0, 2, 3], lambda t: t[0, 2, 3])]:
        add(core_case(f'index [{desc}]', 'index', {'input': x3}, lambda input, fn=fn: fn(input), {'indices': ix}))
    # where with numbers
    cond = torch.tensor([[True, False, True], [False, False, True]])
    add(core_case('where input number', 'where', {'condition': cond, 'other': randn(2, 3)}, lambda condition, other: torch.where(condition, 2.5, other), {'input': 2.5}))
    add(core_case('where other number', 'where', {'condition': cond, 'input': randn(3)}, lambda condition, input: torch.where(condition, input, -1.0), {'other': -1.0}))
    # norm: a zero row (the 2-norm's gradient is 0 there), ties for the infinity norms, zeros for the 1-norm
    xn = torch.tensor([[0.0, 0.0, 0.0, 0.0], [3.0, -4.0, 0.0, 1.0], [-2.0, 2.0, 1.0, -2.0]])
    for p, dim, keep in [(2, 1, False), (2, None, False), ('fro', [0, 1], True), (1, 1, True), (1, 0, False), ('Infinity', 1, False), ('-Infinity', 1, False),
                         ('Infinity', None, False), (2, -2, True)]:
        pp = INF if p == 'Infinity' else (-INF if p == '-Infinity' else p)
        def f(input, pp=pp, dim=dim, keep=keep):
            if dim is None:
                return torch.linalg.vector_norm(input, ord=2 if pp == 'fro' else pp)
            return torch.linalg.vector_norm(input, ord=2 if pp == 'fro' else pp, dim=dim, keepdim=keep)
        add(core_case(f'norm p={p} dim={dim} keepdim={str(keep).lower()}', 'norm', {'input': xn}, f, {'p': p, 'dim': dim, 'keepdim': keep}))
    for p, dim, eps in [(2, 1, 1e-12), (2, -1, 1e-12), (1, 0, 1e-12), (2, 1, 10.0)]:
        add(core_case(f'normalize p={p} dim={dim} eps={eps}', 'normalize', {'input': xn}, lambda input, p=p, dim=dim, eps=eps: F.normalize(input, p=p, dim=dim, eps=eps),
                      {'p': p, 'dim': dim, 'eps': eps}))
    add(core_case('outer', 'outer', {'input': randn(3), 'vec2': randn(4)}, lambda input, vec2: torch.outer(input, vec2)))
    # rms_norm by PyTorch 2.4's formula (x / sqrt(mean(x^2) + eps) * w), eps None = finfo(float64).eps
    def rms(input, weight=None, dims=1, eps=None):
        e = torch.finfo(input.dtype).eps if eps is None else eps
        y = input * torch.rsqrt(input.pow(2).mean(dim=tuple(range(-dims, 0)), keepdim=True) + e)
        return y if weight is None else y * weight
    add(core_case('rmsNorm [2,3,8] weight eps=None', 'rmsNorm', {'input': randn(2, 3, 8), 'weight': randn(8)},
                  lambda input, weight: rms(input, weight), {'normalizedShape': [8], 'eps': None}))
    add(core_case('rmsNorm [4,2,3] shape [2,3] eps=1e-5', 'rmsNorm', {'input': randn(4, 2, 3), 'weight': randn(2, 3)},
                  lambda input, weight: rms(input, weight, 2, 1e-5), {'normalizedShape': [2, 3], 'eps': 1e-5}))
    add(core_case('rmsNorm zero row no weight eps=1e-6', 'rmsNorm', {'input': torch.cat([torch.zeros(1, 5), randn(2, 5)])},
                  lambda input: rms(input, None, 1, 1e-6), {'normalizedShape': [5], 'eps': 1e-6}))
    # one_hot
    add(core_case('oneHot numClasses=-1', 'oneHot', {'input': torch.tensor([[0, 3], [1, 1], [2, 0]])}, lambda input: F.one_hot(input), {'numClasses': -1}))
    add(core_case('oneHot numClasses=6', 'oneHot', {'input': torch.tensor([5, 0, 2])}, lambda input: F.one_hot(input, 6), {'numClasses': 6}))
    # isclose: infinities, NaN, the tolerances' edges
    a = torch.tensor([1.0, 1.0, INF, INF, -INF, NAN, NAN, 0.0, 1e-9, 100.0, 100.0, 1.0])
    b = torch.tensor([1.0 + 1e-6, 1.0 + 1e-4, INF, -INF, -INF, NAN, 1.0, 1e-8, 0.0, 100.001, 100.01, INF])
    for rtol, atol, en in [(1e-5, 1e-8, False), (1e-5, 1e-8, True), (0.0, 1e-3, False), (1e-4, 0.0, True)]:
        add(core_case(f'isclose rtol={rtol} atol={atol} equalNan={str(en).lower()}', 'isclose', {'input': a, 'other': b},
                      lambda input, other, rtol=rtol, atol=atol, en=en: torch.isclose(input, other, rtol=rtol, atol=atol, equal_nan=en),
                      {'rtol': rtol, 'atol': atol, 'equalNan': en}))
    # einsum
    for eq, shapes in [('ij,jk->ik', [(3, 4), (4, 5)]), ('bij,bjk->bik', [(2, 3, 4), (2, 4, 2)]), ('bhqd,bhkd->bhqk', [(2, 2, 3, 4), (2, 2, 5, 4)]),
                       ('bhqk,bhkd->bhqd', [(2, 2, 3, 5), (2, 2, 5, 4)]), ('i,j->ij', [(3,), (4,)]), ('ij,jk', [(3, 4), (4, 2)]), ('ij->ji', [(3, 4)]),
                       ('ij->', [(3, 4)]), ('ijk->j', [(2, 3, 4)]), ('i,i->', [(5,), (5,)]), ('ij,kj->ik', [(2, 3), (4, 3)]), ('bn,anm,bm->ba', [(2, 3), (4, 3, 5), (2, 5)]),
                       ('ij,jk,kl->il', [(2, 3), (3, 4), (4, 2)]), ('ba', [(2, 3)])]:
        ops = [randn(*s) for s in shapes]
        add(core_case(f'einsum {eq}', 'einsum', {'operands': ops}, lambda operands, eq=eq: torch.einsum(eq, *operands), {'equation': eq}))
    h = header('extra', {'notes': 'clamp/clip, silu, select/index (args.indices: an integer, null for ":", or [start, end, step]), where with numbers, '
                                  'norm (torch.linalg.vector_norm; p "fro" as 2), normalize, outer, rmsNorm (torch 1.13 has no rms_norm: computed by '
                                  'PyTorch 2.4\'s formula x * rsqrt(mean(x^2) + eps) * w in float64, eps None = finfo(float64).eps), one_hot, isclose, einsum; '
                                  'float64; grads are torch.autograd.grad with gradOut'})
    return write_json('extra.json', h, 'cases', cases)


# ---- a nanoGPT-style model -----------------------------------------------------------------------

def make_nanogpt():
    """A small GPT of nanoGPT's architecture (written here from its description: token and position
    embeddings, pre-LN blocks of causal self-attention with a tril mask buffer and a GELU MLP, a final
    LayerNorm, an lm_head tied to the token embedding), in float64: its state dict (both tied names),
    the logits and loss of one batch, the gradients of named_parameters() (the tied weight once), the
    logits after cropping the block size, and one generation step's top-k filtered probabilities."""
    T_ = globals()['T']
    torch.manual_seed(31)
    V, T, L, H, E = 11, 8, 2, 2, 8

    class Attention(nn.Module):
        def __init__(self):
            super().__init__()
            self.c_attn = nn.Linear(E, 3 * E)
            self.c_proj = nn.Linear(E, E)
            self.register_buffer('bias', torch.tril(torch.ones(T, T)).view(1, 1, T, T))

        def forward(self, x):
            b, t, c = x.size()
            q, k, v = self.c_attn(x).split(E, dim=2)
            q, k, v = (z.view(b, t, H, c // H).transpose(1, 2) for z in (q, k, v))
            att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(k.size(-1)))
            att = att.masked_fill(self.bias[:, :, :t, :t] == 0, float('-inf'))
            y = F.softmax(att, dim=-1) @ v
            return self.c_proj(y.transpose(1, 2).contiguous().view(b, t, c))

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.ln_1 = nn.LayerNorm(E)
            self.attn = Attention()
            self.ln_2 = nn.LayerNorm(E)
            self.mlp = nn.ModuleDict({'c_fc': nn.Linear(E, 4 * E), 'c_proj': nn.Linear(4 * E, E)})

        def forward(self, x):
            x = x + self.attn(self.ln_1(x))
            return x + self.mlp.c_proj(F.gelu(self.mlp.c_fc(self.ln_2(x))))

    class GPT(nn.Module):
        def __init__(self):
            super().__init__()
            self.transformer = nn.ModuleDict(dict(wte=nn.Embedding(V, E), wpe=nn.Embedding(T, E),
                                                  h=nn.ModuleList([Block() for _ in range(L)]), ln_f=nn.LayerNorm(E)))
            self.lm_head = nn.Linear(E, V, bias=False)
            self.transformer.wte.weight = self.lm_head.weight

        def forward(self, idx, targets=None):
            t = idx.size(1)
            x = self.transformer.wte(idx) + self.transformer.wpe(torch.arange(t))
            for block in self.transformer.h:
                x = block(x)
            logits = self.lm_head(self.transformer.ln_f(x))
            loss = None if targets is None else F.cross_entropy(logits.view(-1, V), targets.view(-1))
            return logits, loss

    m = GPT()
    with torch.no_grad():
        for p in m.parameters():
            p.copy_(torch.randn(p.shape) * 0.3)
    idx = torch.randint(0, V, (2, T))
    targets = torch.randint(0, V, (2, T))
    logits, loss = m(idx, targets)
    state = {k: v.detach().clone() for k, v in m.state_dict().items()}
    loss.backward()
    named = list(m.named_parameters())
    # crop_block_size(5): the position table and the mask buffer shrink
    cropped = 5
    m.transformer.wpe.weight = nn.Parameter(m.transformer.wpe.weight[:cropped])
    for block in m.transformer.h:
        block.attn.bias = block.attn.bias[:, :, :cropped, :cropped]
    with torch.no_grad():
        logits_c, _ = m(idx[:, :cropped])
        temperature, top_k = 0.8, 3
        last = logits_c[:, -1, :] / temperature
        v, _ = torch.topk(last, top_k)
        last = last.clone()
        last[last < v[:, [-1]]] = -float('inf')
        probs = F.softmax(last, dim=-1)
    case = {
        'config': {'vocab': V, 'block': T, 'layers': L, 'heads': H, 'embd': E, 'cropped': cropped,
                   'temperature': temperature, 'topK': top_k},
        'stateDict': {k: T_(v) for k, v in state.items()},
        'idx': T_(idx), 'targets': T_(targets),
        'logits': T_(logits), 'loss': num(loss.item()),
        'grads': [[n, T_(p.grad)] for n, p in named],
        'croppedLogits': T_(logits_c), 'probs': T_(probs),
    }
    return write_json('nanogpt.json', header('nanogpt', {'notes': 'float64; stateDict is the model before cropping, both tied names; '
                                                                  'grads follow named_parameters() (the tied weight once)'}),
                      'cases', [case])


# ---- double backward: Hessian-vector products where a sign, a tie or a limit could hide a bug ----------

def make_double():
    torch.manual_seed(12)
    from torch.autograd.functional import hvp, hessian
    cases = []

    def hvp_case(name, f, inputs, w=None, extra=None):
        xs = tuple(t.detach() for t in inputs)
        vs = tuple(randn(*t.shape) for t in xs)
        out, hv = hvp(lambda *a: f(*a), xs, vs)
        c = {'name': name, 'kind': 'hvp', 'inputs': [T(t) for t in xs], 'v': [T(t) for t in vs], 'out': T(out), 'hvp': [T(t) for t in hv]}
        if w is not None:
            c['w'] = T(w)
        if extra:
            c.update(extra)
        cases.append(c)

    w = randn(6)
    hvp_case('pow negative bases, integer exponent', lambda x: (x.pow(3) * w).sum(), [torch.tensor([-0.5, -2.0, 1.5, -3.0, 0.7, 2.0])], w)
    hvp_case('gelu', lambda x: (F.gelu(x) * w).sum(), [torch.tensor([-3.0, -0.5, 0.0, 0.4, 1.0, 6.0])], w)
    hvp_case('gelu tanh', lambda x: (F.gelu(x, approximate='tanh') * w).sum(), [torch.tensor([-3.0, -0.5, 0.0, 0.4, 1.0, 6.0])], w)
    hvp_case('abs through zero', lambda x: (x.abs().pow(3) * w).sum(), [torch.tensor([-1.0, 0.0, 0.5, -0.25, 2.0, 0.0])], w)
    wm = randn(2, 3)
    neg_inf = torch.tensor([[0.0, -INF, 0.0], [0.0, 0.0, 0.0]])
    hvp_case('softmax with a masked entry', lambda x: (torch.softmax(x + neg_inf, -1) * wm).sum(), [randn(2, 3)], wm)
    hvp_case('logSoftmax', lambda x: (torch.log_softmax(x, -1) * wm).sum(), [randn(2, 3)], wm)
    hvp_case('maximum with ties', lambda a, b: torch.maximum(a, b).pow(2).sum(), [torch.tensor([1.0, -2.0, 0.5]), torch.tensor([1.0, 2.0, 0.5])])
    hvp_case('amax with ties', lambda x: (x.amax(1) ** 3).sum(), [torch.tensor([[1.0, 3.0, 3.0], [-1.0, -4.0, 0.5]])])
    hvp_case('norm of a zero row', lambda x: x.norm(dim=1).pow(3).sum() + x.norm(dim=1).sum(), [torch.tensor([[0.0, 0.0, 0.0], [1.0, -2.0, 0.5]])])
    wl = randn(2, 4)
    hvp_case('layerNorm', lambda x, g, b: (F.layer_norm(x, (4,), g, b) * wl).pow(2).sum(), [randn(2, 4), randn(4), randn(4)], wl)
    hvp_case('crossEntropy with label smoothing', lambda x: F.cross_entropy(x, torch.tensor([2, 0]), label_smoothing=0.1), [randn(2, 3)])
    wo = randn(1, 2, 3, 2)
    hvp_case('scaledDotProductAttention causal', lambda q, k, v: (sdpa_reference(q, k, v, is_causal=True) * wo).sum(),
             [randn(1, 2, 3, 2), randn(1, 2, 3, 2), randn(1, 2, 3, 2)], wo)
    # a small MLP's loss: the Hessian with respect to the first layer (examples/hessian.ts's function)
    x = randn(4, 3)
    y = randn(4, 1)
    W1, b1, W2 = randn(5, 3), randn(5), randn(1, 5)
    def mlp_loss(w1, bb1, w2):
        return F.mse_loss(F.linear(torch.tanh(F.linear(x, w1, bb1)), w2), y)
    H = hessian(lambda w1: mlp_loss(w1, b1, W2), W1)
    cases.append({'name': 'mlp loss hessian', 'kind': 'hessian', 'x': T(x), 'y': T(y), 'inputs': [T(W1), T(b1), T(W2)], 'hessian': T(H)})
    hvp_case('mlp loss', mlp_loss, [W1, b1, W2], None, {'x': T(x), 'y': T(y)})
    # a gradient penalty: the squared norm of dL/dx, differentiated into the weights
    W = randn(3, 4).requires_grad_(True)
    xin = randn(2, 4).requires_grad_(True)
    out = torch.tanh(F.linear(xin, W)).pow(2).sum()
    gx, = torch.autograd.grad(out, xin, create_graph=True)
    penalty = gx.pow(2).sum()
    gw, = torch.autograd.grad(penalty, W)
    cases.append({'name': 'gradient penalty', 'kind': 'penalty', 'inputs': [T(W), T(xin)], 'penalty': num(penalty.item()), 'grad': T(gw)})
    write_json('double.json', header('double', {'notes': 'float64; hvp cases: torch.autograd.functional.hvp(f, inputs, v); see test/autograd/double-backward.test.ts for each f'}),
               'cases', cases)


def main():
    os.makedirs(OUT, exist_ok=True)
    make_core()
    make_sdpa()
    make_mha()
    make_transformer()
    make_optim()
    make_safetensors()
    make_edge()
    make_loss()
    make_indexing()
    make_extra()
    make_nanogpt()
    make_double()


if __name__ == '__main__':
    main()
