;; Imports the same (module, name), syslog, twice, and calls both. Valid
;; core WebAssembly, but the component model's validator refuses it.
(module
  (import "pamwasm:session/log@0.1.0" "syslog" (func $syslog (param i32 i32 i32)))
  (import "pamwasm:session/log@0.1.0" "syslog" (func $again (param i32 i32 i32)))
  (memory (export "memory") 1)
  (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32) (i32.const 1024))
  (func (export "open-session") (param i32 i32 i32) (result i32)
    (call $syslog (i32.const 6) (i32.const 0) (i32.const 0))
    (call $again (i32.const 6) (i32.const 0) (i32.const 0))
    (i32.const 0))
  (func (export "close-session") (param i32 i32 i32) (result i32) (i32.const 0)))
