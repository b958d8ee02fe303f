/**
 * What the command implementations share with the entry point, in a file of its own so that
 * commands.ts does not import main.ts, which loads it (no import cycle in lib/: docs/architecture.md).
 * @module
 */

/** Set by a command whose report says something failed (a doctor check, a plan that cannot apply). */
export class Failed extends Error {}

/** Options every command takes. */
export interface CommonOptions {
  json?: boolean;
}
