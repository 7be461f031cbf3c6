import type { ErrorCode } from '../peer/io.ts';

/** Every error the key/value API throws: `code` tells them apart without instanceof. */
export class TabringError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.name = 'TabringError';
    this.code = code;
  }
}

/** The transaction conflicted with another and was rolled back; `keys` are the conflicting ones (when known). */
export class AbortedError extends TabringError {
  readonly keys: string[];
  constructor(message: string, keys: string[] = []) {
    super('aborted', message);
    this.name = 'AbortedError';
    this.keys = keys;
  }
}

/** read() of a key that a majority of its replicas says does not exist. */
export class NotFoundError extends TabringError {
  readonly key: string;
  constructor(key: string) {
    super('not_found', `key "${key}" not found`);
    this.name = 'NotFoundError';
    this.key = key;
  }
}

/**
 * The commit may or may not have happened: the decision did not reach us in time. Never
 * reported as an abort. Retrying with the same transaction id (db.resolve(txId, keys)) is
 * idempotent and tells the outcome once it is known.
 */
export class CommitUnknownError extends TabringError {
  readonly txId: string;
  readonly keys: string[];
  constructor(message: string, txId: string, keys: string[]) {
    super('commit_unknown', message);
    this.name = 'CommitUnknownError';
    this.txId = txId;
    this.keys = keys;
  }
}

/** Not enough replicas (a majority) could be reached: nothing was changed. */
export class UnavailableError extends TabringError {
  constructor(message: string) {
    super('unavailable', message);
    this.name = 'UnavailableError';
  }
}

/** addOnNr on a non-number, addDelOnList on a non-list. */
export class WrongTypeError extends TabringError {
  readonly key: string;
  constructor(key: string, expected: string, found: string) {
    super('wrong_type', `key "${key}" holds ${found}, not ${expected}`);
    this.name = 'WrongTypeError';
    this.key = key;
  }
}

/** testAndSet found another value than expected. */
export class KeyChangedError extends TabringError {
  readonly key: string;
  readonly actual: unknown;
  constructor(key: string, actual: unknown) {
    super('key_changed', `key "${key}" does not hold the expected value`);
    this.name = 'KeyChangedError';
    this.key = key;
    this.actual = actual;
  }
}

/** A documented limit (key size, value size, keys per transaction) was exceeded; nothing was sent. */
export class LimitError extends TabringError {
  constructor(message: string) {
    super('limit', message);
    this.name = 'LimitError';
  }
}

/** Bad input (not JSON, wrong argument types); nothing was sent. */
export class InvalidError extends TabringError {
  constructor(message: string) {
    super('invalid', message);
    this.name = 'InvalidError';
  }
}

/** The peer is not (or no longer) in a ring. */
export class NotJoinedError extends TabringError {
  constructor(message: string) {
    super('not_joined', message);
    this.name = 'NotJoinedError';
  }
}

/** Map a peer's error reply to the API's error classes. */
export function errorFromReply(code: ErrorCode, message: string, keys: string[] = [], txId = ''): TabringError {
  switch (code) {
    case 'aborted':
      return new AbortedError(message, keys);
    case 'unknown':
      return new CommitUnknownError(message, txId, keys);
    case 'unavailable':
    case 'timeout':
      return new UnavailableError(message);
    case 'limit':
      return new LimitError(message);
    case 'invalid':
      return new InvalidError(message);
    case 'not_joined':
    case 'stopped':
      return new NotJoinedError(message);
  }
}
