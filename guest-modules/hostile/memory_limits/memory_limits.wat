;; Its memory's maximum is 65537 pages, one past the 65536 (4 GiB) a 32-bit
;; memory can have: an invalid module, which a rewrite capping the maximum
;; would have repaired into a valid one.
(module
  (memory (export "memory") 1 65537)
  (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32) (i32.const 1024))
  (func (export "open-session") (param i32 i32 i32) (result i32) (i32.const 0))
  (func (export "close-session") (param i32 i32 i32) (result i32) (i32.const 0)))
