;; open-session loops forever writing 1000000 into global 1: one past the
;; module's only global, so the module is invalid. A metering rewrite that
;; appended its fuel counter as global 1 without validating the module first
;; would turn this into a loop that refills its own fuel.
(module
  (memory (export "memory") 1)
  (global $counter (mut i32) (i32.const 0))
  (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32) (i32.const 1024))
  (func (export "open-session") (param i32 i32 i32) (result i32)
    (loop $spin
      (global.set 1 (i32.const 1000000))
      (br $spin))
    (i32.const 0))
  (func (export "close-session") (param i32 i32 i32) (result i32) (i32.const 0)))
