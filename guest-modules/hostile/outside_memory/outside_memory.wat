;; open-session passes one host import a string or list whose bytes lie
;; (partly) outside its one-page memory, chosen by the number of arguments
;; on the stack line:
;;   0 syslog, length 0xFFFFFFF0 from 0;  1 syslog, 16 bytes from 0xFFFF0000;
;;   2 info, 8 bytes straddling the memory's end;  3 set-data, a value of
;;   65536 bytes from 1;  4 put-env, length 0x80000000 from 0x80000000;
;;   5 get-env, 2 bytes from 65535.
;; It returns success if the host lets it through.
(module
  (import "pamwasm:session/log@0.1.0" "syslog" (func $syslog (param i32 i32 i32)))
  (import "pamwasm:session/conversation@0.1.0" "info" (func $info (param i32 i32) (result i32)))
  (import "pamwasm:session/conversation@0.1.0" "error" (func $error (param i32 i32) (result i32)))
  (import "pamwasm:session/conversation@0.1.0" "prompt" (func $prompt (param i32 i32 i32 i32)))
  (import "pamwasm:session/env@0.1.0" "put-env" (func $put_env (param i32 i32) (result i32)))
  (import "pamwasm:session/env@0.1.0" "get-env" (func $get_env (param i32 i32 i32)))
  (import "pamwasm:session/data@0.1.0" "set-data" (func $set_data (param i32 i32 i32 i32) (result i32)))
  (import "pamwasm:session/data@0.1.0" "get-data" (func $get_data (param i32 i32 i32)))
  (import "pamwasm:session/data@0.1.0" "delete-data" (func $delete_data (param i32 i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32) (i32.const 1024))
  (func (export "open-session") (param i32 i32 i32) (result i32)
    (block $b5 (block $b4 (block $b3 (block $b2 (block $b1 (block $b0
      (br_table $b0 $b1 $b2 $b3 $b4 $b5 $b0 (local.get 2)))
      (call $syslog (i32.const 6) (i32.const 0) (i32.const 0xFFFFFFF0))
      (return (i32.const 0)))
      (call $syslog (i32.const 6) (i32.const 0xFFFF0000) (i32.const 16))
      (return (i32.const 0)))
      (drop (call $info (i32.const 65532) (i32.const 8)))
      (return (i32.const 0)))
      (drop (call $set_data (i32.const 0) (i32.const 1) (i32.const 1) (i32.const 65536)))
      (return (i32.const 0)))
      (drop (call $put_env (i32.const 0x80000000) (i32.const 0x80000000)))
      (return (i32.const 0)))
    (call $get_env (i32.const 65535) (i32.const 2) (i32.const 2048))
    (i32.const 0))
  (func (export "close-session") (param i32 i32 i32) (result i32) (i32.const 0)))
