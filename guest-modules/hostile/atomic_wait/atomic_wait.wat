;; A plain session module: both hooks succeed. What it carries is extra.wat.
(module
  (memory (export "memory") 1)
  (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32) (i32.const 1024))
  (func (export "open-session") (param i32 i32 i32) (result i32) (i32.const 0))
  (func (export "close-session") (param i32 i32 i32) (result i32) (i32.const 0)))
