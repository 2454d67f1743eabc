/**
 * Calling registered functions by name. Start the node with
 * `node bin/ks.js start --datadir ./ks-data --module dist/examples/functions.js`.
 */
import { Client } from '../index.js';

const c = new Client(process.env.KS_URL ?? 'http://127.0.0.1:6323/');
c.bc('parse', 'a=1;b=2');
c.bc('slowDouble', 21);
await c.execute();
console.log(await c.br());
console.log(await c.map('slowDouble', [1, 2, 3]));
await c.close();
