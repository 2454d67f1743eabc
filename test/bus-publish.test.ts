import { Writable } from 'node:stream';
import test from 'ava';
import { pino } from 'pino';
import { Bus } from '../src/bus.js';
import { runtimeLog, setRuntimeLog } from '../src/log.js';
import { startServices, type Services } from './helpers/cluster.js';

let services: Services;

test.before(async () => {
  services = await startServices();
});

test.after.always(async () => {
  await services?.stop();
});

test('publish never throws: a message over NATS\'s limit is dropped for NATS, still delivered in-process', async (t) => {
  const bus = await Bus.connect(services.natsUrl, { name: 'bus-test' });
  const other = await Bus.connect(services.natsUrl, { name: 'bus-test-other' });
  t.teardown(async () => {
    await bus.close();
    await other.close();
  });
  const local: number[] = [];
  const remote: number[] = [];
  bus.subscribe('t.big', (data) => local.push(data.byteLength));
  other.subscribe('t.big', (data) => remote.push(data.byteLength));
  await other.flush();
  const errors: string[] = [];
  const original = runtimeLog();
  setRuntimeLog(pino(new Writable({ write(line, _encoding, done) { errors.push(String(line)); done(); } })));
  try {
    t.notThrows(() => bus.publish('t.big', new Uint8Array(2 * 1024 * 1024)));
  } finally {
    setRuntimeLog(original);
  }
  bus.publish('t.big', new Uint8Array(10));
  await bus.flush();
  await new Promise((r) => setTimeout(r, 100));
  t.deepEqual(local, [2 * 1024 * 1024, 10]);
  t.deepEqual(remote, [10], 'the oversize message never reached NATS; the next one did');
  t.is(errors.length, 1);
  t.regex(String(errors[0]), /NATS publish on t\.big \(2097152 bytes\) failed/);
});

test('publish after close does not throw', async (t) => {
  const bus = await Bus.connect(services.natsUrl, { name: 'bus-closed' });
  await bus.close();
  const original = runtimeLog();
  setRuntimeLog(pino({ enabled: false }));
  try {
    t.notThrows(() => bus.publish('t.closed', new Uint8Array(1)));
  } finally {
    setRuntimeLog(original);
  }
});
