/**
 * Names the loader gives things: the JavaScript spellings jco uses for WIT
 * names, interface names without their version, and content by its sha256.
 */
import { createHash } from 'node:crypto';

/** `foo-bar` as jco names it in JavaScript: `fooBar`. */
export const camel = (kebab: string) => kebab.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase());

/** A JavaScript name back in WIT spelling: `fooBar` is `foo-bar`. */
export const kebabCase = (name: string) => name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

/** An interface name without its version: `pamwasm:session/items@0.1.0` is `pamwasm:session/items`. */
export const unversioned = (name: string) => name.replace(/@[^/]*$/, '');

/** Hex sha256 of `data` (a string as UTF-8). */
export const sha256 = (data: string | Uint8Array) => createHash('sha256').update(data).digest('hex');
