import Fastify from 'fastify';

/**
 * The latency benchmarks' floor: a plain fastify server answering `POST /call` with its body,
 * no queue, no Redis. Run as a child process (`node plain-fastify-server.js`); prints
 * `listening <address>` and stops on SIGTERM.
 */
const app = Fastify();
app.post('/call', async (request) => request.body);
const address = await app.listen({ host: '127.0.0.1', port: 0 });
console.log(`listening ${address}`);
process.once('SIGTERM', () => void app.close().then(() => process.exit(0)));
