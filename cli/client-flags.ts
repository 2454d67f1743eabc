import { Flags } from '@oclif/core';
import { DEFAULT_NODE_URL } from '../src/config.js';

/**
 * The flags of commands that talk to a running cluster through one of its nodes. `--node`
 * names that node (`--url` is kept as an alias, so a data url argument is never confused with it).
 */
export const clientFlags = {
  node: Flags.string({ aliases: ['url'], default: DEFAULT_NODE_URL, env: 'KS_URL', helpValue: 'URL', description: 'any node of the cluster (alias --url)' }),
  token: Flags.string({ env: 'KS_TOKEN', description: 'the cluster token, if nodes require one' }),
};
