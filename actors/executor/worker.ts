import { Console } from 'node:console';
import { MessageChannel, parentPort, workerData as rawWorkerData } from 'node:worker_threads';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { decode, encode, encodeLargeBuffer } from '../../src/codec.js';
import { toRemoteErrorInfo, type RemoteErrorInfo } from '../../src/errors.js';
import { importFrom } from '../../src/environments.js';
import { CLOSURE_HINT, instantiate } from '../../src/function-source.js';
import { taskStorage, type TaskContext } from '../../src/task-context.js';
import { endTaskData, installTaskData } from './task-data.js';
import { WorkerOutbox } from './worker-outbox.js';
import type { MainMessage, WorkerData, WorkerJob, WorkerTask } from './worker-protocol.js';

/**
 * The piscina worker entry: runs jobs on one thread. Everything it reports (output, results,
 * failures) goes through one MessageChannel, batched by a WorkerOutbox, so the main thread
 * sees a job's output before its outcome. It holds no Redis or NATS connection.
 */
const workerData = rawWorkerData as WorkerData;
/** What `import('kitchensink')` gives a task: the public API without the server stack. */
const KITCHENSINK_ENTRY = new URL('../../src/api.js', import.meta.url).href;

const channel = new MessageChannel();
// A second channel carries the task's remote-data calls to the node's DataHolder (comlink).
const dataChannel = new MessageChannel();
parentPort!.postMessage({ ksChannel: channel.port2, ksData: dataChannel.port2 }, [channel.port2, dataChannel.port2]);
const port = channel.port1;
installTaskData(dataChannel.port1, workerData.node);
const outbox = new WorkerOutbox(port);
// What is waiting goes out before the thread dies (process.exit, an uncaught error), so the
// main thread knows which job was running: the first one without an outcome.
process.on('exit', () => outbox.flush());
process.on('uncaughtExceptionMonitor', () => outbox.flush());

interface RunningJob {
  controller?: AbortController;
  output: boolean;
}
const running = new Map<string, RunningJob>();
/** Cancelled before they started: skipped when their turn comes. */
const cancelled = new Set<string>();
/** An abort can arrive after its job ended here: beyond this many ids, the oldest are dropped. */
const MAX_CANCELLED = 10_000;

port.on('message', (message: MainMessage) => {
  if (message.t !== 'abort') return;
  const job = running.get(message.id);
  if (job) (job.controller ??= new AbortController()).abort(new Error(message.reason));
  else {
    cancelled.add(message.id);
    if (cancelled.size > MAX_CANCELLED) cancelled.delete(cancelled.values().next().value!);
  }
});

captureOutput('stdout');
captureOutput('stderr');
// A console of our own on the captured streams: the worker thread's global one costs about
// 1-5 µs per call warm (an error listener added and removed around every write) and ~60 µs
// cold; this one writes straight through (the captured write never throws).
globalThis.console = new Console({ stdout: process.stdout, stderr: process.stderr, ignoreErrors: false, colorMode: false });

function captureOutput(stream: 'stdout' | 'stderr'): void {
  const target = process[stream];
  const original = target.write.bind(target);
  target.write = ((chunk: unknown, encoding?: unknown, callback?: unknown) => {
    const context = taskStorage.getStore();
    const job = context && running.get(context.jobId);
    if (!job) return original(chunk as string, encoding as BufferEncoding, callback as () => void);
    if (job.output) {
      const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString('utf8');
      outbox.output(context.jobId, stream, text);
    }
    const done = typeof encoding === 'function' ? encoding : callback;
    if (typeof done === 'function') queueMicrotask(done as () => void);
    return true;
  }) as typeof target.write;
}

async function importFromNode(specifier: string): Promise<unknown> {
  if (specifier === 'kitchensink') return import(KITCHENSINK_ENTRY);
  try {
    return await import(specifier);
  } catch (error) {
    if ((error as { code?: string }).code !== 'ERR_MODULE_NOT_FOUND') throw error;
    // Not installed beside kitchensink: try the node's working directory.
    const resolved = createRequire(join(process.cwd(), 'index.js')).resolve(specifier);
    return import(pathToFileURL(resolved).href);
  }
}

type AnyFunction = (...args: unknown[]) => unknown;
const shipped = new Map<string, AnyFunction>();
let registeredModule: Promise<Record<string, unknown>> | undefined;

/** Imports of tasks run in a named environment: resolved from its folder. */
const envImporters = new Map<string, (specifier: string) => Promise<unknown>>();

function importerFor(env: string | undefined): (specifier: string) => Promise<unknown> {
  if (env === undefined) return importFromNode;
  let importer = envImporters.get(env);
  if (!importer) {
    const dir = workerData.envs?.[env];
    if (!dir) throw new Error(`node ${workerData.node.name} has no environment "${env}"`);
    const fromEnv = importFrom(dir);
    importer = (specifier) => (specifier === 'kitchensink' ? import(KITCHENSINK_ENTRY) : fromEnv(specifier));
    envImporters.set(env, importer);
  }
  return importer;
}

async function resolveFunction(job: WorkerJob, sources: Record<string, string>): Promise<AnyFunction> {
  if (job.registered) {
    if (!workerData.modulePath) throw new Error(`unknown function "${job.fn}": not registered on this node (it was started without --module)`);
    registeredModule ??= import(pathToFileURL(workerData.modulePath).href) as Promise<Record<string, unknown>>;
    const fn = (await registeredModule)[job.fn];
    if (typeof fn !== 'function') throw new Error(`unknown function "${job.fn}": ${workerData.modulePath} exports no function of that name`);
    return fn as AnyFunction;
  }
  // One instance per environment: its import() resolves from that environment's folder.
  const key = job.env === undefined ? job.fn : `${job.env}\0${job.fn}`;
  let fn = shipped.get(key);
  if (!fn) {
    const prepared = sources[job.fn];
    if (!prepared) throw new Error(`function ${job.name} (${job.fn.slice(0, 12)}) was not shipped with the job`);
    fn = instantiate(prepared, job.name, importerFor(job.env));
    shipped.set(key, fn);
  }
  return fn;
}

/** Stack frames of kitchensink's own machinery, which say nothing about the user's code. */
const INTERNAL_FRAME = /\/actors\/executor\/worker\.js|node_modules\/piscina\/|\(node:async_hooks|\(node:internal\//;

function describeFailure(error: unknown, job: WorkerJob): RemoteErrorInfo {
  const info = toRemoteErrorInfo(error);
  if (info.stack) info.stack = info.stack.split('\n').filter((line) => !INTERNAL_FRAME.test(line)).join('\n');
  if (!job.registered && info.name === 'ReferenceError' && / is not defined$/.test(info.message)) {
    const message = `${info.message}. ${CLOSURE_HINT} (function ${job.name || '(anonymous)'})`;
    return { ...info, message, stack: info.stack?.replace(info.message, message) };
  }
  return info;
}

/** A call's arguments; bytes that do not decode to an array fail the job with a clear error. */
function decodeArgs(bytes: Uint8Array): unknown[] {
  let args: unknown;
  try {
    args = decode(bytes);
  } catch (error) {
    throw invalidArguments(`the call's arguments are not valid CBOR: ${(error as Error).message}`);
  }
  if (!Array.isArray(args)) throw invalidArguments('the call\'s arguments are not a CBOR array');
  return args;
}

/** The cause is the caller's bytes, not code: the stack (cbor-x's frames) would only mislead. */
function invalidArguments(message: string): Error {
  const error = new Error(message);
  error.name = 'InvalidArguments';
  error.stack = `${error.name}: ${message}`;
  return error;
}

/** A chunk of `map(..., { chunkSize })`: fn on each item in turn; a failure names the item's index in the map. */
async function runEach(fn: AnyFunction, [items, first]: unknown[]): Promise<unknown[]> {
  const results: unknown[] = [];
  for (const [i, item] of (items as unknown[]).entries()) {
    try {
      results.push(await fn(item));
    } catch (error) {
      const e = error as { message?: unknown; stack?: unknown } | null;
      if (e && typeof e === 'object' && typeof e.message === 'string') {
        const message = `map item ${(first as number) + i}: ${e.message}`;
        try {
          if (typeof e.stack === 'string' && e.message) e.stack = e.stack.replace(e.message, message);
          e.message = message;
        } catch {
          // a frozen error keeps its message
        }
      }
      throw error;
    }
  }
  return results;
}

/** Returns how long the job ran (ms). */
async function runJob(job: WorkerJob, sources: Record<string, string>): Promise<number> {
  if (cancelled.delete(job.id)) {
    outbox.failed(job.id, { name: 'CancelledError', message: `job ${job.id} was cancelled` }, 0);
    return 0;
  }
  const started = performance.now();
  const entry: RunningJob = { output: job.output };
  running.set(job.id, entry);
  const context: TaskContext = {
    jobId: job.id,
    node: workerData.node,
    queue: job.queue,
    attempt: job.attempt,
    // Most tasks never look at their signal: create it on first use.
    get signal() {
      return (entry.controller ??= new AbortController()).signal;
    },
  };
  try {
    const fn = await resolveFunction(job, sources);
    const args = decodeArgs(job.args);
    const value = await taskStorage.run(context, () => (job.each ? runEach(fn, args) : fn(...args)));
    const ms = performance.now() - started;
    const own = encodeLargeBuffer(value);
    outbox.done(job.id, own ?? encode(value), ms, own !== undefined);
    return ms;
  } catch (error) {
    const ms = performance.now() - started;
    outbox.failed(job.id, describeFailure(error, job), ms);
    return ms;
  } finally {
    running.delete(job.id);
    endTaskData(job.id);
  }
}

/**
 * Outcomes of very short jobs of one function are sent together (one message for a run of
 * no-ops, not one each); anything else is sent before the next job starts, so a finished
 * job never waits behind a long one.
 */
const BATCHED_JOB_MS = 0.2;
const BATCH_WAIT_MS = 1;

export default async function runTask(task: WorkerTask): Promise<void> {
  outbox.flush();
  let previousFn = '';
  let previousMs = 0;
  for (const job of task.jobs) {
    if (outbox.waitingSince >= 0) {
      const batched = previousMs < BATCHED_JOB_MS && previousFn === job.fn && performance.now() - outbox.waitingSince < BATCH_WAIT_MS;
      if (!batched) outbox.flush();
    }
    previousFn = job.fn;
    previousMs = await runJob(job, task.sources);
  }
  // The task is over: its outcomes go now, ahead of piscina's own "task done".
  outbox.flush();
}
