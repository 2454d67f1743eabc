import { Command } from '@oclif/core';
import { checkNodeUrl, CliUsageError, explainError } from './cli-errors.js';

/**
 * A command that talks to a cluster: `--json` (oclif's json flag: what `run()` returns is
 * printed as JSON, and an error as `{ "error": ... }`), and errors said in CLI terms.
 */
export abstract class ClientCommand extends Command {
  static override enableJsonFlag = true;

  /** `--node`, checked (a value that is not a url stops the command, saying so). */
  protected nodeUrl(flags: { node: string; token?: string }): string {
    try {
      return checkNodeUrl(flags.node);
    } catch (error) {
      return this.fail(error, flags);
    }
  }

  /** Stops the command with `error` explained (which flag to change); a usage mistake exits 2, anything else 1. */
  protected fail(error: unknown, flags: { node: string; token?: string }): never {
    if (error instanceof Error && 'oclif' in error) throw error;
    const exit = error instanceof CliUsageError ? 2 : 1;
    this.error(explainError(error, { node: flags.node, tokenGiven: Boolean(flags.token) }), { exit });
  }
}
