;; open-session calls one host import forever, each time with a 62 MiB
;; argument (the first 62 MiB of its memory, all zero bytes). The import is
;; chosen by the number of arguments on the stack line:
;;   0 syslog, 1 info, 2 error, 3 prompt, 4 put-env, 5 get-env,
;;   6 set-data (the value), 7 set-data (the name), 8 get-data, 9 delete-data.
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
  ;; 1000 pages: 62.5 MiB. The argument is [0, 62 MiB); results go above it.
  (memory (export "memory") 1000)
  (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32) (i32.const 65011712))
  (func (export "open-session") (param i32 i32 i32) (result i32)
    (local $big i32)
    (local $ret i32)
    (local.set $big (i32.const 65011712))
    (local.set $ret (i32.const 65535984))
    (loop $again
      (block $b9 (block $b8 (block $b7 (block $b6 (block $b5
      (block $b4 (block $b3 (block $b2 (block $b1 (block $b0
        (br_table $b0 $b1 $b2 $b3 $b4 $b5 $b6 $b7 $b8 $b9 $b0 (local.get 2)))
        (call $syslog (i32.const 6) (i32.const 0) (local.get $big))
        (br $again))
        (drop (call $info (i32.const 0) (local.get $big)))
        (br $again))
        (drop (call $error (i32.const 0) (local.get $big)))
        (br $again))
        (call $prompt (i32.const 0) (i32.const 0) (local.get $big) (local.get $ret))
        (br $again))
        (drop (call $put_env (i32.const 0) (local.get $big)))
        (br $again))
        (call $get_env (i32.const 0) (local.get $big) (local.get $ret))
        (br $again))
        (drop (call $set_data (i32.const 0) (i32.const 1) (i32.const 0) (local.get $big)))
        (br $again))
        (drop (call $set_data (i32.const 0) (local.get $big) (i32.const 0) (i32.const 1)))
        (br $again))
        (call $get_data (i32.const 0) (local.get $big) (local.get $ret))
        (br $again))
      (drop (call $delete_data (i32.const 0) (local.get $big)))
      (br $again))
    (i32.const 0))
  (func (export "close-session") (param i32 i32 i32) (result i32) (i32.const 0)))
