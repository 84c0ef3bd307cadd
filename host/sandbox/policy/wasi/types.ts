/**
 * WASI 0.2 value types as jco's glue passes them to and from the host
 * (the same shapes as @bytecodealliance/preview2-shim's type declarations).
 */

/** wasi:filesystem/types `error-code`. */
export type ErrorCode =
  | 'access' | 'would-block' | 'already' | 'bad-descriptor' | 'busy' | 'deadlock' | 'quota'
  | 'exist' | 'file-too-large' | 'illegal-byte-sequence' | 'in-progress' | 'interrupted'
  | 'invalid' | 'io' | 'is-directory' | 'loop' | 'too-many-links' | 'message-size'
  | 'name-too-long' | 'no-device' | 'no-entry' | 'no-lock' | 'insufficient-memory'
  | 'insufficient-space' | 'not-directory' | 'not-empty' | 'not-recoverable' | 'unsupported'
  | 'no-tty' | 'no-such-device' | 'overflow' | 'not-permitted' | 'pipe' | 'read-only'
  | 'invalid-seek' | 'text-file-busy' | 'cross-device';

export type DescriptorType =
  | 'unknown' | 'block-device' | 'character-device' | 'directory' | 'fifo'
  | 'symbolic-link' | 'regular-file' | 'socket';

/** wasi:clocks/wall-clock `datetime`. */
export interface Datetime { seconds: bigint; nanoseconds: number }

export interface DescriptorStat {
  type: DescriptorType;
  linkCount: bigint;
  size: bigint;
  dataAccessTimestamp?: Datetime;
  dataModificationTimestamp?: Datetime;
  statusChangeTimestamp?: Datetime;
}

export interface PathFlags { symlinkFollow?: boolean }
export interface OpenFlags { create?: boolean; directory?: boolean; exclusive?: boolean; truncate?: boolean }
export interface DescriptorFlags {
  read?: boolean;
  write?: boolean;
  fileIntegritySync?: boolean;
  dataIntegritySync?: boolean;
  requestedWriteSync?: boolean;
  mutateDirectory?: boolean;
}
export interface DirectoryEntry { type: DescriptorType; name: string }
export interface MetadataHashValue { lower: bigint; upper: bigint }
