;; The valid module the component is made from: fuel_refill.wat with the
;; global it writes being its own (index 0).
(module
  (memory (export "memory") 1)
  (global $counter (mut i32) (i32.const 0))
  (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32) (i32.const 1024))
  (func (export "open-session") (param i32 i32 i32) (result i32)
    (loop $spin
      (global.set 0 (i32.const 1000000))
      (br $spin))
    (i32.const 0))
  (func (export "close-session") (param i32 i32 i32) (result i32) (i32.const 0)))
