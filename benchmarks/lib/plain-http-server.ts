import { createReadStream, createWriteStream } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';

/**
 * The data benchmark's baseline: a plain Node http server that streams an upload to a file
 * (then fsyncs it, as kitchensink does) and streams a file back. No hashing, no catalog.
 * Run as a child process: `node plain-http-server.js <dir>`; prints `listening <port>`.
 */
const dir = process.argv[2];
if (!dir) throw new Error('usage: plain-http-server <dir>');
const file = join(dir, 'plain-upload.bin');

const server = createServer((req, res) => {
  const fail = (error: unknown) => {
    res.statusCode = 500;
    res.end(String(error));
  };
  if (req.method === 'POST') {
    pipeline(req, createWriteStream(file))
      .then(async () => {
        const handle = await open(file, 'r');
        await handle.sync();
        await handle.close();
        res.end('ok');
      })
      .catch(fail);
  } else {
    stat(file).then((s) => {
      res.writeHead(200, { 'content-length': s.size, 'content-type': 'application/octet-stream' });
      return pipeline(createReadStream(file, { highWaterMark: 1 << 20 }), res);
    }).catch(fail);
  }
});
server.requestTimeout = 0;
server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  console.log(`listening ${typeof address === 'object' && address ? address.port : 0}`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
