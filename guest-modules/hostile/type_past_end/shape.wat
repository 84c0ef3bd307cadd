;; The valid module the component is made from: type_past_end.wat with the
;; type that $spin names (index 2) defined.
(module
  (type $realloc (func (param i32 i32 i32 i32) (result i32)))
  (type $hook (func (param i32 i32 i32) (result i32)))
  (type $empty (func))
  (memory (export "memory") 1)
  (func (export "cabi_realloc") (type $realloc) (i32.const 1024))
  (func (export "open-session") (type $hook) (call $spin) (i32.const 0))
  (func (export "close-session") (type $hook) (i32.const 0))
  (func $spin (type $empty) (loop $l (br $l))))
