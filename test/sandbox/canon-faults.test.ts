/**
 * What the canonical ABI refuses from a guest, as traps (the guest's fault,
 * never the host's), on both load paths.
 *
 * Pointers the guest hands the host to lower into, out of its memory: a
 * cabi_realloc that returns an address past the end (or a negative one, as
 * an i32 the host reads signed), or a result pointer (retptr) past the end.
 * Each is the guest's fault, a trap, as in wasmtime ("realloc return:
 * beyond end of memory", "pointer out of bounds"): the hook fails closed,
 * the host stays up, and the fault is not blamed on the host.
 */
import { describe, expect, it } from 'vitest';
import { craftComponent } from '../../host/build/crafted.js';
import { newHandleState } from '../../host/runtime/index.js';
import { WIT_VERSION } from '../../host/wit/index.js';
import { ITEMS, openOn } from '../support/hostile.js';

/**
 * open-session of a crafted module with `argc` arguments, on one path, as a
 * session line runs it; the handle holds A=1, so that list-env has an entry to lower.
 */
async function open(path: 'fast' | 'jco', wat: string, label: string, argc: number) {
  const handle = newHandleState(ITEMS);
  handle.env.set('A', '1');
  return openOn(path, await craftComponent(wat, {}, label), argc, undefined, handle);
}

const IMPORTS = `(import "pamwasm:session/env@${WIT_VERSION}" "list-env" (func $list (param i32)))
  (import "pamwasm:session/items@${WIT_VERSION}" "get-item" (func $item (param i32 i32)))
  (import "pamwasm:session/data@${WIT_VERSION}" "set-data" (func $set (param i32 i32 i32 i32) (result i32)))
  (import "pamwasm:session/data@${WIT_VERSION}" "get-data" (func $get (param i32 i32 i32)))
  (import "pamwasm:session/log@${WIT_VERSION}" "syslog" (func $syslog (param i32 i32 i32)))
  (import "pamwasm:session/conversation@${WIT_VERSION}" "prompt" (func $prompt (param i32 i32 i32 i32)))`;

/** A module whose realloc returns `at` once `armed` (or always), and whose open-session runs `body`, then returns `status`. */
const module = (at: string, body: string, always: boolean, status = '(i32.const 0)') => `(module
  ${IMPORTS}
  (memory (export "memory") 1)
  (data (i32.const 200) "k")
  (global $heap (mut i32) (i32.const 4096))
  (global $armed (mut i32) (i32.const ${always ? 1 : 0}))
  (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32)
    (if (global.get $armed) (then (return ${at})))
    (global.get $heap)
    (global.set $heap (i32.add (global.get $heap) (i32.add (local.get 3) (i32.const 8)))))
  (func (export "open-session") (param i32 i32 i32) (result i32) (global.set $armed (i32.const 1)) ${body} ${status})
  (func (export "close-session") (param i32 i32 i32) (result i32) (i32.const 0)))`;

const PAST = '(i32.const 65536)';
const NEGATIVE = '(i32.const -16)';
const GET = '(call $get (i32.const 200) (i32.const 1) (i32.const 64))';
const CASES: Record<string, [string, number]> = {
  'realloc past the end, lowering the hook\'s arguments': [module(PAST, '', true), 2],
  'realloc negative, lowering the hook\'s arguments': [module(NEGATIVE, '', true), 2],
  'realloc past the end, lowering list-env\'s result': [module(PAST, '(call $list (i32.const 64))', false), 0],
  'realloc negative, lowering get-item\'s result': [module(NEGATIVE, '(call $item (i32.const 1) (i32.const 64))', false), 0],
  'realloc negative, lowering get-data\'s bytes': [module(NEGATIVE, `(drop (call $set (i32.const 200) (i32.const 1) (i32.const 200) (i32.const 1))) ${GET}`, false), 0],
  'realloc past the end, lowering get-data\'s bytes': [module(PAST, `(drop (call $set (i32.const 200) (i32.const 1) (i32.const 200) (i32.const 1))) ${GET}`, false), 0],
  'list-env\'s result pointer past the end': [module('(global.get $heap)', '(call $list (i32.const 65532))', false), 0],
  'get-item\'s result pointer negative': [module('(global.get $heap)', '(call $item (i32.const 1) (i32.const -4))', false), 0],
};

describe.each(['fast', 'jco'] as const)('an out-of-bounds pointer the host lowers into, on the %s path', (path) => {
  it.each(Object.entries(CASES))('(%s) is a trap, and the hook fails closed', async (label, [wat, argc]) => {
    const r = await open(path, wat, label, argc);
    expect(r.status).toBeUndefined();
    expect(r.fault?.kind).toBe('trap');
    expect(r.fault?.message).toMatch(/address outside its memory/);
  });
});

/**
 * Enum values out of their range, from the guest: a hook's status, or an
 * import's argument. jco's glue and the fast path both refuse them with
 * "invalid discriminant specified for ...", before any host function runs.
 */
const HEAP = '(global.get $heap)';
const ENUMS: Record<string, string> = {
  'open-session returns status 32': module(HEAP, '', false, '(i32.const 32)'),
  'open-session returns status -1': module(HEAP, '', false, '(i32.const -1)'),
  'get-item asked for item 200': module(HEAP, '(call $item (i32.const 200) (i32.const 64))', false),
  'syslog at priority 8': module(HEAP, '(call $syslog (i32.const 8) (i32.const 200) (i32.const 1))', false),
  'prompt of style 9': module(HEAP, '(call $prompt (i32.const 9) (i32.const 200) (i32.const 1) (i32.const 64))', false),
};

describe.each(['fast', 'jco'] as const)('an enum value out of its range from the guest, on the %s path', (path) => {
  it.each(Object.entries(ENUMS))('(%s) is a trap, and the hook fails closed', async (label, wat) => {
    const r = await open(path, wat, label, 0);
    expect(r.status).toBeUndefined();
    expect(r.fault?.kind).toBe('trap');
    expect(r.fault?.message).toMatch(/out of its type's range: invalid discriminant specified for (Status|Item|Priority|PromptStyle)$/);
  });

  it('the same module with values in range runs', async () => {
    const r = await open(path, module(HEAP, '(call $item (i32.const 1) (i32.const 64)) (call $syslog (i32.const 7) (i32.const 200) (i32.const 1))', false, '(i32.const 14)'), 'in range', 0);
    expect(r.fault).toBeUndefined();
    expect(r.status).toBe('session-err');
  });
});
