;; A core module no canonical option uses, instantiated with the component:
;; its start function waits on its own shared memory with an infinite
;; timeout (-1), which no one will ever notify. Run, it blocks the thread
;; that instantiates the component, beyond any fuel check or timer.
(module
  (memory 1 1 shared)
  (func $block
    (drop (memory.atomic.wait32 (i32.const 0) (i32.const 0) (i64.const -1))))
  (start $block))
