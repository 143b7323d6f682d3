/** Latchkey's version, shown by `latchkey --version` and `latchkey status`. Kept apart so the CLI loads fast. */
export const LATCHKEY_VERSION = '0.1.0';
