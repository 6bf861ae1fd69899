;; The SIMD provider's strided copy (text source; scripts/build-wasm.mjs builds it with wabt): the gather
;; behind permutes, slices and other views' dense copies. Pointers are byte offsets into the imported memory.
(module
  (import "env" "memory" (memory 1 MAXPAGES SHARED))

  ;; out (dense) = `runs` runs of n0 floats from x, s0 floats apart within a run; the runs' starts walk the
  ;; outer dims by an odometer: dims holds nd (size, stride in floats) pairs, outermost first, and cnt nd
  ;; zeroed counters. A contiguous run (s0 = 1) moves four floats at a time.
  (func (export "gather") (param $x i32) (param $out i32) (param $n0 i32) (param $s0 i32)
                          (param $dims i32) (param $cnt i32) (param $nd i32) (param $runs i32)
    (local $run i32) (local $p i32) (local $end i32) (local $vend i32) (local $d i32) (local $at i32)
    (local $c i32) (local $size i32) (local $stride i32) (local $step i32)
    (local.set $step (i32.shl (local.get $s0) (i32.const 2)))
    (block $rdone (loop $rl
      (br_if $rdone (i32.ge_u (local.get $run) (local.get $runs)))
      (local.set $p (local.get $x))
      (if (i32.eq (local.get $s0) (i32.const 1))
        (then
          (local.set $end (i32.add (local.get $p) (i32.shl (local.get $n0) (i32.const 2))))
          (local.set $vend (i32.add (local.get $p) (i32.shl (i32.and (local.get $n0) (i32.const -4)) (i32.const 2))))
          (block $vd (loop $vl
            (br_if $vd (i32.ge_u (local.get $p) (local.get $vend)))
            (v128.store (local.get $out) (v128.load (local.get $p)))
            (local.set $p (i32.add (local.get $p) (i32.const 16)))
            (local.set $out (i32.add (local.get $out) (i32.const 16)))
            (br $vl)))
          (block $td (loop $tl
            (br_if $td (i32.ge_u (local.get $p) (local.get $end)))
            (i32.store (local.get $out) (i32.load (local.get $p)))
            (local.set $p (i32.add (local.get $p) (i32.const 4)))
            (local.set $out (i32.add (local.get $out) (i32.const 4)))
            (br $tl))))
        (else
          (local.set $end (i32.add (local.get $out) (i32.shl (local.get $n0) (i32.const 2))))
          (block $sd (loop $sl
            (br_if $sd (i32.ge_u (local.get $out) (local.get $end)))
            (i32.store (local.get $out) (i32.load (local.get $p)))
            (local.set $p (i32.add (local.get $p) (local.get $step)))
            (local.set $out (i32.add (local.get $out) (i32.const 4)))
            (br $sl)))))
      ;; the next run's start: innermost outer dim first
      (local.set $d (local.get $nd))
      (block $od (loop $ol
        (br_if $od (i32.eqz (local.get $d)))
        (local.set $d (i32.sub (local.get $d) (i32.const 1)))
        (local.set $at (i32.add (local.get $dims) (i32.shl (local.get $d) (i32.const 3))))
        (local.set $size (i32.load (local.get $at)))
        (local.set $stride (i32.shl (i32.load offset=4 (local.get $at)) (i32.const 2)))
        (local.set $x (i32.add (local.get $x) (local.get $stride)))
        (local.set $at (i32.add (local.get $cnt) (i32.shl (local.get $d) (i32.const 2))))
        (local.set $c (i32.add (i32.load (local.get $at)) (i32.const 1)))
        (if (i32.lt_u (local.get $c) (local.get $size))
          (then (i32.store (local.get $at) (local.get $c)) (br $od)))
        (i32.store (local.get $at) (i32.const 0))
        (local.set $x (i32.sub (local.get $x) (i32.mul (local.get $stride) (local.get $size))))
        (br $ol)))
      (local.set $run (i32.add (local.get $run) (i32.const 1)))
      (br $rl)))
  )
)
