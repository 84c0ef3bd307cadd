;; $spin is declared with type 2, one past the module's last type: an
;; invalid module. A metering rewrite that appends its own [] -> [] type
;; without validating first would make it valid, and open-session would spin.
(module
  (type $realloc (func (param i32 i32 i32 i32) (result i32)))
  (type $hook (func (param i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "cabi_realloc") (type $realloc) (i32.const 1024))
  (func (export "open-session") (type $hook) (call $spin) (i32.const 0))
  (func (export "close-session") (type $hook) (i32.const 0))
  (func $spin (type 2) (loop $l (br $l))))
