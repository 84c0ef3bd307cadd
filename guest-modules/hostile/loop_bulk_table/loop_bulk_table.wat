;; open-session loops forever over a funcref table: it grows the table by
;; 20,000 entries while it is under 200,000 (table.grow), then fills all of
;; it (table.fill) and copies it one entry up (table.copy). V8 writes a
;; funcref entry in tens of nanoseconds, so each iteration runs for
;; milliseconds in three instructions.
(module
  (memory (export "memory") 1)
  (table $t 1 funcref)
  (func $target)
  (elem declare func $target)
  (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32) (i32.const 1024))
  (func (export "open-session") (param i32 i32 i32) (result i32)
    (local $n i32)
    (loop $spin
      (if (i32.lt_u (table.size $t) (i32.const 200000))
        (then (drop (table.grow $t (ref.func $target) (i32.const 20000)))))
      (local.set $n (table.size $t))
      (table.fill $t (i32.const 0) (ref.null func) (local.get $n))
      (table.copy $t $t (i32.const 1) (i32.const 0) (i32.sub (local.get $n) (i32.const 1)))
      (br $spin))
    (i32.const 0))
  (func (export "close-session") (param i32 i32 i32) (result i32) (i32.const 0)))
