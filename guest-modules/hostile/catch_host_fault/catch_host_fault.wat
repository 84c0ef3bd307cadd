;; open-session catches the exception a host call throws into it (legacy
;; exception handling: try / catch_all) and goes on, chosen by the number
;; of arguments on the stack line:
;;   0 retries forever a syslog whose string lies outside its memory;
;;   1 retries forever a syslog of 62 MiB (past its time limit the host
;;     call throws, and is caught);
;;   2 catches one syslog outside its memory, then returns success.
;; The text parser no longer reads legacy `try`, so each is written as
;; `(block (call $syslog ...) (nop))` and catch_host_fault.patch turns the
;; block into `try` and the nop into `catch_all`.
(module
  (import "pamwasm:session/log@0.1.0" "syslog" (func $syslog (param i32 i32 i32)))
  (memory (export "memory") 1000)
  (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32) (i32.const 65011712))
  (func (export "open-session") (param i32 i32 i32) (result i32)
    (block $b2 (block $b1 (block $b0
      (br_table $b0 $b1 $b2 $b0 (local.get 2)))
      (loop $retry
        (block (call $syslog (i32.const 6) (i32.const 0) (i32.const 0xFFFFFFF0)) (nop))
        (br $retry)))
      (loop $retry
        (block (call $syslog (i32.const 6) (i32.const 0) (i32.const 65011712)) (nop))
        (br $retry)))
    (block (call $syslog (i32.const 6) (i32.const 0) (i32.const 0xFFFFFFF0)) (nop))
    (i32.const 0))
  (func (export "close-session") (param i32 i32 i32) (result i32) (i32.const 0)))
