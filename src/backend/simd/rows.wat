;; The SIMD provider's softmax row kernels (text source; scripts/build-wasm.mjs builds it with wabt), over
;; rows×cols float32 matrices. Pointers are byte offsets into the imported memory.
(module
  (import "env" "memory" (memory 1 MAXPAGES SHARED))

  (; include exp.wat.inc ;)

  ;; softmax entries of rows×cols scores x with the row statistic l[row]: out = exp(x - l), and 0 where
  ;; x < -1e30 (masked scores). A row's last cols % 4 entries go one lane at a time.
  (func (export "expRows") (param $x i32) (param $l i32) (param $out i32) (param $rows i32) (param $cols i32)
    (local $r i32) (local $end i32) (local $vend i32) (local $lv v128) (local $v v128) (local $e v128)
    (block $rdone (loop $rl
      (br_if $rdone (i32.ge_u (local.get $r) (local.get $rows)))
      (local.set $lv (v128.load32_splat (i32.add (local.get $l) (i32.shl (local.get $r) (i32.const 2)))))
      (local.set $end (i32.add (local.get $x) (i32.shl (local.get $cols) (i32.const 2))))
      (local.set $vend (i32.add (local.get $x) (i32.shl (i32.and (local.get $cols) (i32.const -4)) (i32.const 2))))
      (block $done (loop $l4
        (br_if $done (i32.ge_u (local.get $x) (local.get $vend)))
        (local.set $v (v128.load (local.get $x)))
        (v128.store (local.get $out)
          (v128.andnot (call $exp (f32x4.sub (local.get $v) (local.get $lv)))
                       (f32x4.lt (local.get $v) (v128.const f32x4 -1e30 -1e30 -1e30 -1e30))))
        (local.set $x (i32.add (local.get $x) (i32.const 16)))
        (local.set $out (i32.add (local.get $out) (i32.const 16)))
        (br $l4)))
      (block $tdone (loop $l1
        (br_if $tdone (i32.ge_u (local.get $x) (local.get $end)))
        (local.set $v (v128.load32_splat (local.get $x)))
        (local.set $e (v128.andnot (call $exp (f32x4.sub (local.get $v) (local.get $lv)))
                                   (f32x4.lt (local.get $v) (v128.const f32x4 -1e30 -1e30 -1e30 -1e30))))
        (f32.store (local.get $out) (f32x4.extract_lane 0 (local.get $e)))
        (local.set $x (i32.add (local.get $x) (i32.const 4)))
        (local.set $out (i32.add (local.get $out) (i32.const 4)))
        (br $l1)))
      (local.set $r (i32.add (local.get $r) (i32.const 1)))
      (br $rl)))
  )

  ;; Row statistics of rows×cols x (the softmax/log-sum-exp rows): per row r, maxOut[r] (f32) = the largest
  ;; entry (-Infinity for none), or NaN when the row holds a NaN or an entry above the largest finite
  ;; float32 (+Infinity); with $sum, sumOut[r] (f64) = Σ exp(x − max) over the live entries (those not
  ;; below maskBelow), the exps (float32, about 1 ulp) summed in float64. A row's last
  ;; cols % 4 entries go one lane at a time (splat: every lane the same entry, lane 0 summed).
  (func (export "rowStats") (param $x i32) (param $rows i32) (param $cols i32) (param $maskBelow f32)
                            (param $maxOut i32) (param $sumOut i32) (param $sum i32)
    (local $r i32) (local $p i32) (local $end i32) (local $vend i32) (local $row i32)
    (local $v v128) (local $mv v128) (local $bad v128) (local $mask v128) (local $e v128)
    (local $s0 v128) (local $s1 v128) (local $m f32) (local $tail f64)
    (local.set $mask (f32x4.splat (local.get $maskBelow)))
    (block $rdone (loop $rl
      (br_if $rdone (i32.ge_u (local.get $r) (local.get $rows)))
      (local.set $row (local.get $x))
      (local.set $end (i32.add (local.get $x) (i32.shl (local.get $cols) (i32.const 2))))
      (local.set $vend (i32.add (local.get $x) (i32.shl (i32.and (local.get $cols) (i32.const -4)) (i32.const 2))))
      ;; pass 1: the max over every entry (live ones win over masked ones) and the bad test
      (local.set $mv (v128.const f32x4 -inf -inf -inf -inf))
      (local.set $bad (v128.const i32x4 0 0 0 0))
      (local.set $p (local.get $row))
      (block $d1 (loop $l1
        (br_if $d1 (i32.ge_u (local.get $p) (local.get $vend)))
        (local.set $v (v128.load (local.get $p)))
        (local.set $mv (f32x4.pmax (local.get $mv) (local.get $v)))
        (local.set $bad (v128.or (local.get $bad)
          (v128.or (f32x4.ne (local.get $v) (local.get $v)) (f32x4.gt (local.get $v) (v128.const f32x4 3.4028234663852886e38 3.4028234663852886e38 3.4028234663852886e38 3.4028234663852886e38)))))
        (local.set $p (i32.add (local.get $p) (i32.const 16)))
        (br $l1)))
      (block $d2 (loop $l2
        (br_if $d2 (i32.ge_u (local.get $p) (local.get $end)))
        (local.set $v (v128.load32_splat (local.get $p)))
        (local.set $mv (f32x4.pmax (local.get $mv) (local.get $v)))
        (local.set $bad (v128.or (local.get $bad)
          (v128.or (f32x4.ne (local.get $v) (local.get $v)) (f32x4.gt (local.get $v) (v128.const f32x4 3.4028234663852886e38 3.4028234663852886e38 3.4028234663852886e38 3.4028234663852886e38)))))
        (local.set $p (i32.add (local.get $p) (i32.const 4)))
        (br $l2)))
      (local.set $m (f32.max (f32.max (f32x4.extract_lane 0 (local.get $mv)) (f32x4.extract_lane 1 (local.get $mv)))
                             (f32.max (f32x4.extract_lane 2 (local.get $mv)) (f32x4.extract_lane 3 (local.get $mv)))))
      (if (v128.any_true (local.get $bad)) (then (local.set $m (f32.const nan))))
      (f32.store (i32.add (local.get $maxOut) (i32.shl (local.get $r) (i32.const 2))) (local.get $m))
      ;; pass 2: Σ exp(x − m) over the live entries, in float64
      (if (local.get $sum) (then
        (local.set $mv (f32x4.splat (local.get $m)))
        (local.set $s0 (v128.const f64x2 0 0))
        (local.set $s1 (v128.const f64x2 0 0))
        (local.set $p (local.get $row))
        (block $d3 (loop $l3
          (br_if $d3 (i32.ge_u (local.get $p) (local.get $vend)))
          (local.set $v (v128.load (local.get $p)))
          (local.set $e (v128.andnot (call $exp (f32x4.sub (local.get $v) (local.get $mv))) (f32x4.lt (local.get $v) (local.get $mask))))
          (local.set $s0 (f64x2.add (local.get $s0) (f64x2.promote_low_f32x4 (local.get $e))))
          (local.set $s1 (f64x2.add (local.get $s1) (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $e) (local.get $e)))))
          (local.set $p (i32.add (local.get $p) (i32.const 16)))
          (br $l3)))
        (local.set $tail (f64.const 0))
        (block $d4 (loop $l4
          (br_if $d4 (i32.ge_u (local.get $p) (local.get $end)))
          (local.set $v (v128.load32_splat (local.get $p)))
          (local.set $e (v128.andnot (call $exp (f32x4.sub (local.get $v) (local.get $mv))) (f32x4.lt (local.get $v) (local.get $mask))))
          (local.set $tail (f64.add (local.get $tail) (f64.promote_f32 (f32x4.extract_lane 0 (local.get $e)))))
          (local.set $p (i32.add (local.get $p) (i32.const 4)))
          (br $l4)))
        (local.set $s0 (f64x2.add (local.get $s0) (local.get $s1)))
        (f64.store (i32.add (local.get $sumOut) (i32.shl (local.get $r) (i32.const 3)))
          (f64.add (f64.add (f64x2.extract_lane 0 (local.get $s0)) (f64x2.extract_lane 1 (local.get $s0))) (local.get $tail)))))
      (local.set $x (local.get $end))
      (local.set $r (i32.add (local.get $r) (i32.const 1)))
      (br $rl)))
  )

  ;; out[r, c] = p[r, c]·(g[r, c] − d[r]) over rows×cols (the softmax backward's dS = P ⊙ (g − D)); a row's
  ;; last cols % 4 entries go one lane at a time
  (func (export "rowMulSub") (param $p i32) (param $g i32) (param $d i32) (param $out i32) (param $rows i32) (param $cols i32)
    (local $r i32) (local $end i32) (local $vend i32) (local $dv v128)
    (block $rdone (loop $rl
      (br_if $rdone (i32.ge_u (local.get $r) (local.get $rows)))
      (local.set $dv (v128.load32_splat (i32.add (local.get $d) (i32.shl (local.get $r) (i32.const 2)))))
      (local.set $end (i32.add (local.get $p) (i32.shl (local.get $cols) (i32.const 2))))
      (local.set $vend (i32.add (local.get $p) (i32.shl (i32.and (local.get $cols) (i32.const -4)) (i32.const 2))))
      (block $done (loop $l4
        (br_if $done (i32.ge_u (local.get $p) (local.get $vend)))
        (v128.store (local.get $out)
          (f32x4.mul (v128.load (local.get $p)) (f32x4.sub (v128.load (local.get $g)) (local.get $dv))))
        (local.set $p (i32.add (local.get $p) (i32.const 16)))
        (local.set $g (i32.add (local.get $g) (i32.const 16)))
        (local.set $out (i32.add (local.get $out) (i32.const 16)))
        (br $l4)))
      (block $tdone (loop $l1
        (br_if $tdone (i32.ge_u (local.get $p) (local.get $end)))
        (f32.store (local.get $out)
          (f32.mul (f32.load (local.get $p)) (f32.sub (f32.load (local.get $g)) (f32x4.extract_lane 0 (local.get $dv)))))
        (local.set $p (i32.add (local.get $p) (i32.const 4)))
        (local.set $g (i32.add (local.get $g) (i32.const 4)))
        (local.set $out (i32.add (local.get $out) (i32.const 4)))
        (br $l1)))
      (local.set $r (i32.add (local.get $r) (i32.const 1)))
      (br $rl)))
  )
)
