;; open-session grows its memory to 1000 pages (62.5 MiB, under the default
;; `memory=64MiB`), then loops forever filling 62 MiB and copying 62 MiB
;; within it: two instructions an iteration, each some milliseconds long.
(module
  (memory (export "memory") 1)
  (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32) (i32.const 1024))
  (func (export "open-session") (param i32 i32 i32) (result i32)
    (drop (memory.grow (i32.const 999)))
    (loop $spin
      (memory.fill (i32.const 0) (i32.const 0x5a) (i32.const 65011712))
      (memory.copy (i32.const 0) (i32.const 524288) (i32.const 65011712))
      (br $spin))
    (i32.const 0))
  (func (export "close-session") (param i32 i32 i32) (result i32) (i32.const 0)))
