;; The valid module the component is made from: trailing_bytes.wat without
;; the byte after the global section's only global.
(module
  (memory (export "memory") 1)
  (global $calls (mut i32) (i32.const 0))
  (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32) (i32.const 1024))
  (func (export "open-session") (param i32 i32 i32) (result i32)
    (global.set $calls (i32.add (global.get $calls) (i32.const 1)))
    (i32.const 0))
  (func (export "close-session") (param i32 i32 i32) (result i32) (i32.const 0)))
