/**
 * Remote data: start a node (`npm start`), then `node dist/examples/remote-data.js`.
 * KS_URL picks another node (default http://127.0.0.1:6323/).
 */
import { rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { client, dobj, dp, setupClient, type RemoteData } from '../index.js';

setupClient(process.env.KS_URL ?? 'http://127.0.0.1:6323/');
const c = client();

// Save an object on the cluster (CBOR by default); it gets a url under the prefix.
type Table = { columns: string[]; rows: number[][] };
const table = await dobj<Table>({ columns: ['x', 'y'], rows: Array.from({ length: 1000 }, (_, i) => [i, i * i]) }).save({ prefix: 'examples' });
console.log('saved at', table.dataUrl);

// Tasks get it by reference: only the url travels. The node reads its own copy, or fetches
// it from a holder, checks its sha256, keeps it and becomes a holder too.
const sumOfY = await c.call(async (t: RemoteData<Table>) => {
  const { rows } = await t.obj();
  return rows.reduce((sum, [, y]) => sum + y, 0);
}, table);
console.log('sum of y:', sumOfY);

// A task can save its result on the cluster and return the reference, not the bytes.
const squares = await c.call(async (t: RemoteData<Table>) => {
  const { dobj } = await import('kitchensink');
  const { rows } = await t.obj();
  return dobj(rows.map(([x]) => x ** 2)).save({ prefix: 'examples/results' });
}, table);
console.log('result at', squares.dataUrl, 'starts with', (await squares.obj()).slice(0, 5));

// Files are streamed as they are; a task reads the node's local copy of them.
const file = join(tmpdir(), `ks-example-${process.pid}.csv`);
writeFileSync(file, 'a,b\n1,2\n3,4\n');
const csv = await dp(file).save({ url: `examples/table-${process.pid}.csv` });
console.log(await c.call(async (f: RemoteData) => {
  const { readFile } = await import('node:fs/promises');
  return readFile(await f.localPath(), 'utf8');
}, csv));
rmSync(file);

// The catalog: search, holders, checksums. Data is write-once: delete a url to reuse it.
const urls = await c.pathSearch('examples/**');
console.log('saved urls:', urls);
console.log('holders of the table:', (await c.dataInfo([table.dataUrl])).data[table.dataUrl].holders);
console.log('checksums:', await c.checksums(table.dataUrl));
for (const url of urls) await c.deleteData(url);
await c.close();
