import test from 'ava';
import { localityQueues, localityWaitFor, MAX_COPY_WAIT_MS, type DataFacts } from '../actors/scheduler/locality.js';
import type { NodeInfo } from '../src/protocol.js';

function node(name: string, queues = ['default', 'data']): NodeInfo {
  return { name, url: `http://127.0.0.1/${name}/`, queues, workers: 1, readOnly: false, started: 0, heartbeat: 0, functions: [] };
}

function facts(data: Record<string, { size: number; holders: string[] }>, load: Record<string, number> = {}): DataFacts {
  return {
    known: (url) => url in data,
    size: (url) => data[url]?.size ?? 0,
    holders: (url) => new Set(data[url]?.holders ?? []),
    load: (n) => load[n] ?? 0,
  };
}

const nodes = [node('node1'), node('node2'), node('node3')];

test('a call without data goes to its shared queue', (t) => {
  t.deepEqual(localityQueues('default', [], 200e6, nodes, facts({})), ['default']);
});

test('data on node 2: node 2 first, then the others by name (the seed\'s test_data_routing order)', (t) => {
  const queues = localityQueues('default', ['a'], 200e6, nodes, facts({ a: { size: 1000, holders: ['node2'] } }));
  t.deepEqual(queues, ['default|node2', 'default|node1', 'default|node3']);
});

test('1 MB on node 1 and 100 kB on node 2: node 1, node 2, node 3 (test_data_routing_multiple_sources)', (t) => {
  const data = facts({ big: { size: 1_000_000, holders: ['node1'] }, small: { size: 100_000, holders: ['node2'] } });
  t.deepEqual(localityQueues('default', ['big', 'small'], 200e6, nodes, data), ['default|node1', 'default|node2', 'default|node3']);
});

test('nodes that would copy more than the threshold are dropped', (t) => {
  const data = facts({ big: { size: 300e6, holders: ['node3'] } });
  t.deepEqual(localityQueues('default', ['big'], 200e6, nodes, data), ['default|node3']);
  t.deepEqual(localityQueues('default', ['big'], 400e6, nodes, data), ['default|node3', 'default|node1', 'default|node2']);
});

test('when no node is within the threshold the call goes to the shared queue', (t) => {
  const data = facts({ a: { size: 300e6, holders: [] } });
  t.deepEqual(localityQueues('default', ['a'], 200e6, nodes, data), ['default']);
});

test('ties are broken by load, then by name', (t) => {
  const data = facts({ a: { size: 10, holders: ['node1', 'node2', 'node3'] } }, { node1: 5, node2: 0, node3: 5 });
  t.deepEqual(localityQueues('default', ['a'], 200e6, nodes, data), ['default|node2', 'default|node1', 'default|node3']);
});

test('only nodes serving the queue are candidates (named queues with locality)', (t) => {
  const gpuNodes = [node('node1', ['default', 'gpu']), node('node3', ['default', 'gpu'])];
  const data = facts({ a: { size: 10, holders: ['node3'] } });
  t.deepEqual(localityQueues('gpu', ['a'], 200e6, gpuNodes, data), ['gpu|node3', 'gpu|node1']);
});

test('urls the catalog does not know do not steer the call', (t) => {
  t.deepEqual(localityQueues('default', ['unknown'], 200e6, nodes, facts({})), ['default']);
});

test('a node holding the data in memory comes before one holding it on disk, before one that must copy it', (t) => {
  const data = facts({ a: { size: 1000, holders: ['node1', 'node3'] } }, { node3: 5 });
  const inMemory = (url: string, n: string) => url === 'a' && n === 'node3';
  t.deepEqual(localityQueues('default', ['a'], 200e6, nodes, { ...data, inMemory }), ['default|node3', 'default|node1', 'default|node2']);
  // without the memory fact, the lighter disk holder leads
  t.deepEqual(localityQueues('default', ['a'], 200e6, nodes, data), ['default|node1', 'default|node3', 'default|node2']);
});

test('the locality wait grows to the time the largest call\'s data takes to copy, and only then', (t) => {
  const data = facts({ big: { size: 50e6, holders: ['node1'] }, small: { size: 1e6, holders: ['node2'] } });
  const rate = 100e6; // bytes per second
  t.is(localityWaitFor([{ dataUrls: [] }], data, 50, rate), 50, 'no data: the configured wait');
  t.is(localityWaitFor([{ dataUrls: ['small'] }], data, 50, rate), 50, 'a 10 ms copy does not lengthen a 50 ms wait');
  t.is(localityWaitFor([{ dataUrls: ['small'] }, { dataUrls: ['big'] }], data, 50, rate), 500, 'the largest call counts: 50 MB at 100 MB/s');
  t.is(localityWaitFor([{ dataUrls: ['big', 'small'] }], data, 50, rate), 510, 'a call\'s urls add up');
  t.is(localityWaitFor([{ dataUrls: ['unknown'] }], data, 50, rate), 50, 'urls the catalog does not know count nothing');
  t.is(localityWaitFor([{ dataUrls: ['big'] }], data, 0, rate), 0, 'delay scheduling off stays off');
  t.is(localityWaitFor([{ dataUrls: ['big'] }], data, 50, 0), 50, 'a copy rate of 0 keeps the configured wait');
  t.is(localityWaitFor([{ dataUrls: ['big'] }], data, 50, 1000), MAX_COPY_WAIT_MS, 'capped');
});
