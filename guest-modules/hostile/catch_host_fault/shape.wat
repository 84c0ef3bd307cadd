;; The module the component is made from: catch_host_fault.wat's imports and
;; exports, without exception handling (which the component tooling may not take).
(module
  (import "pamwasm:session/log@0.1.0" "syslog" (func $syslog (param i32 i32 i32)))
  (memory (export "memory") 1000)
  (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32) (i32.const 65011712))
  (func (export "open-session") (param i32 i32 i32) (result i32)
    (call $syslog (i32.const 6) (i32.const 0) (i32.const 0))
    (i32.const 0))
  (func (export "close-session") (param i32 i32 i32) (result i32) (i32.const 0)))
