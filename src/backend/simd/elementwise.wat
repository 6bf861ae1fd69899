;; The SIMD provider's element-wise kernels (text source; scripts/build-wasm.mjs builds it with wabt).
;; Four lanes at a time over n elements (n rounded up to a multiple of 4: the JS side pads its scratch).
;; Pointers are byte offsets into the imported memory.
;; The vector exp is exp.wat.inc's. (The softmax row kernels are rows.wat's: each module stays under 4 KB,
;; the most older Chromium lets a page's main thread compile synchronously.)
(module
  (import "env" "memory" (memory 1 MAXPAGES SHARED))

  (; include exp.wat.inc ;)

  ;; u = sqrt(2/pi)·(x + 0.044715·x³)
  (func $geluU (; inline ;) (param $x v128) (result v128)
    (f32x4.mul (v128.const f32x4 0.7978845608 0.7978845608 0.7978845608 0.7978845608)
      (f32x4.add (local.get $x)
        (f32x4.mul (v128.const f32x4 0.044715 0.044715 0.044715 0.044715)
          (f32x4.mul (local.get $x) (f32x4.mul (local.get $x) (local.get $x))))))
  )

  ;; 1 + tanh(u) and 1 - tanh(u) without cancellation: with e = e^(2u), 2e/(1 + e) and 2/(1 + e). As the
  ;; kernel source does, tanh is exactly ±1 beyond |u| > 20 (one of the two is then exactly 0).
  (func $tanhParts (; inline ;) (param $u v128) (result v128 v128)
    (local $e v128) (local $r v128)
    (local.set $e (call $exp (f32x4.add (local.get $u) (local.get $u))))
    (local.set $r (f32x4.div (v128.const f32x4 2 2 2 2) (f32x4.add (v128.const f32x4 1 1 1 1) (local.get $e))))
    (v128.andnot (f32x4.mul (local.get $e) (local.get $r)) (f32x4.lt (local.get $u) (v128.const f32x4 -20 -20 -20 -20)))
    (v128.andnot (local.get $r) (f32x4.gt (local.get $u) (v128.const f32x4 20 20 20 20)))
  )

  ;; out = x/2·(1 + tanh(u))
  (func (export "geluTanh") (param $x i32) (param $out i32) (param $n i32)
    (local $end i32) (local $v v128) (local $plus v128) (local $minus v128)
    (local.set $end (i32.add (local.get $x) (i32.shl (local.get $n) (i32.const 2))))
    (block $done (loop $l
      (br_if $done (i32.ge_u (local.get $x) (local.get $end)))
      (local.set $v (v128.load (local.get $x)))
      (call $tanhParts (call $geluU (local.get $v)))
      (local.set $minus)
      (local.set $plus)
      (v128.store (local.get $out) (f32x4.mul (f32x4.mul (v128.const f32x4 0.5 0.5 0.5 0.5) (local.get $v)) (local.get $plus)))
      (local.set $x (i32.add (local.get $x) (i32.const 16)))
      (local.set $out (i32.add (local.get $out) (i32.const 16)))
      (br $l)))
  )

  ;; out = g·(1/2·(1 + th) + x/2·(1 - th²)·sqrt(2/pi)·(1 + 3·0.044715·x²)), th = tanh(u), 1 - th² = (1 + th)(1 - th)
  (func (export "geluTanhBackward") (param $g i32) (param $x i32) (param $out i32) (param $n i32)
    (local $end i32) (local $v v128) (local $plus v128) (local $minus v128) (local $half v128)
    (local.set $end (i32.add (local.get $x) (i32.shl (local.get $n) (i32.const 2))))
    (local.set $half (v128.const f32x4 0.5 0.5 0.5 0.5))
    (block $done (loop $l
      (br_if $done (i32.ge_u (local.get $x) (local.get $end)))
      (local.set $v (v128.load (local.get $x)))
      (call $tanhParts (call $geluU (local.get $v)))
      (local.set $minus)
      (local.set $plus)
      (v128.store (local.get $out)
        (f32x4.mul (v128.load (local.get $g))
          (f32x4.add
            (f32x4.mul (local.get $half) (local.get $plus))
            (f32x4.mul
              (f32x4.mul (f32x4.mul (local.get $half) (local.get $v)) (f32x4.mul (local.get $plus) (local.get $minus)))
              (f32x4.mul (v128.const f32x4 0.7978845608 0.7978845608 0.7978845608 0.7978845608)
                (f32x4.add (v128.const f32x4 1 1 1 1)
                  ;; x² capped at 1e30: beyond it 1 - th² is exactly 0 and the term must be 0, not 0·Inf
                  (f32x4.mul (v128.const f32x4 0.134145 0.134145 0.134145 0.134145)
                    (f32x4.min (f32x4.mul (local.get $v) (local.get $v)) (v128.const f32x4 1e30 1e30 1e30 1e30)))))))))
      (local.set $x (i32.add (local.get $x) (i32.const 16)))
      (local.set $g (i32.add (local.get $g) (i32.const 16)))
      (local.set $out (i32.add (local.get $out) (i32.const 16)))
      (br $l)))
  )

  ;; out = exp(x) elementwise (the softmax entries: the JS side subtracts the row statistic first)
  (func (export "exp") (param $x i32) (param $out i32) (param $n i32)
    (local $end i32)
    (local.set $end (i32.add (local.get $x) (i32.shl (local.get $n) (i32.const 2))))
    (block $done (loop $l
      (br_if $done (i32.ge_u (local.get $x) (local.get $end)))
      (v128.store (local.get $out) (call $exp (v128.load (local.get $x))))
      (local.set $x (i32.add (local.get $x) (i32.const 16)))
      (local.set $out (i32.add (local.get $out) (i32.const 16)))
      (br $l)))
  )

  ;; out = a + b, a - b or a·b elementwise over n elements (op 0, 1, 2), four lanes at a time
  (func (export "binary") (param $op i32) (param $a i32) (param $b i32) (param $out i32) (param $n i32)
    (local $end i32) (local $x v128) (local $y v128)
    (local.set $end (i32.add (local.get $a) (i32.shl (local.get $n) (i32.const 2))))
    (block $done (loop $l
      (br_if $done (i32.ge_u (local.get $a) (local.get $end)))
      (local.set $x (v128.load (local.get $a)))
      (local.set $y (v128.load (local.get $b)))
      (v128.store (local.get $out)
        (if (result v128) (i32.eqz (local.get $op))
          (then (f32x4.add (local.get $x) (local.get $y)))
          (else (if (result v128) (i32.eq (local.get $op) (i32.const 1))
            (then (f32x4.sub (local.get $x) (local.get $y)))
            (else (f32x4.mul (local.get $x) (local.get $y)))))))
      (local.set $a (i32.add (local.get $a) (i32.const 16)))
      (local.set $b (i32.add (local.get $b) (i32.const 16)))
      (local.set $out (i32.add (local.get $out) (i32.const 16)))
      (br $l)))
  )
)
