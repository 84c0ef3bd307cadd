;; open-session loops forever growing its memory: 16 pages (1 MiB) at a
;; time, writing over each new megabyte, until the memory cap refuses; then
;; it keeps asking, one page at a time, for ever.
(module
  (memory (export "memory") 1)
  (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32) (i32.const 1024))
  (func (export "open-session") (param i32 i32 i32) (result i32)
    (local $old i32)
    (loop $spin
      (local.set $old (memory.grow (i32.const 16)))
      (if (i32.ne (local.get $old) (i32.const -1))
        (then (memory.fill (i32.shl (local.get $old) (i32.const 16)) (i32.const 0xa5) (i32.const 1048576)))
        (else (drop (memory.grow (i32.const 1)))))
      (br $spin))
    (i32.const 0))
  (func (export "close-session") (param i32 i32 i32) (result i32) (i32.const 0)))
