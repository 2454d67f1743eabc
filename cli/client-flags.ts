import { Flags } from '@oclif/core';
import { DEFAULT_NODE_URL } from '../src/config.js';

/** The flags of commands that talk to a running cluster through one of its nodes. */
export const clientFlags = {
  url: Flags.string({ default: DEFAULT_NODE_URL, env: 'KS_URL', description: 'any node of the cluster' }),
  token: Flags.string({ env: 'KS_TOKEN', description: 'the cluster token, if nodes require one' }),
};
