import { Command, Flags } from '@oclif/core';
import formatBytes from 'bytes';
import Table from 'cli-table3';
import { Client, type NodeStatusInfo } from '../../src/client/client.js';
import { DEFAULT_NODE_URL } from '../../src/config.js';

export default class Status extends Command {
  static override description = 'Show the live nodes (threads busy/free, running jobs, data held), and the waiting jobs per queue';
  static override flags = {
    url: Flags.string({ default: DEFAULT_NODE_URL, env: 'KS_URL', description: 'any node of the cluster' }),
    token: Flags.string({ env: 'KS_TOKEN', description: 'the cluster token, if nodes require one' }),
    json: Flags.boolean({ default: false, description: 'print JSON instead of tables' }),
    wide: Flags.boolean({ default: false, description: 'also show each node\'s environments (--env) and the urls it holds pinned in memory' }),
  };

  async run(): Promise<void> {
    const { flags } = await this.parse(Status);
    const head = new Client(flags.url, { token: flags.token, output: 'silent' });
    try {
      const [hosts, queues] = await Promise.all([head.hosts(), head.queueLengths()]);
      const statuses = await Promise.all(hosts.map(async (host) => {
        const node = new Client(host.url, { token: flags.token, output: 'silent' });
        try {
          return await withTimeout(node.nodeStatus(), 3000);
        } catch {
          return null;
        } finally {
          await node.close();
        }
      }));
      if (flags.json) {
        this.log(JSON.stringify({ nodes: hosts.map((h, i) => ({ ...h, status: statuses[i] })), queues }, null, 2));
        return;
      }
      const style = process.stdout.isTTY ? {} : { style: { head: [], border: [] } };
      const nodes = new Table({
        ...style,
        head: ['node', 'url', 'queues', 'threads busy/free', 'running jobs', 'completed', 'data held', 'in memory (used/budget, pinned)', 'received from peers', 'heartbeat', ...(flags.wide ? ['environments', 'pinned in memory'] : [])],
      });
      hosts.forEach((host, i) => {
        const s: NodeStatusInfo | null = statuses[i];
        const e = s?.executor;
        const d = s?.data;
        nodes.push([
          host.name + (host.readOnly ? ' (read-only)' : ''),
          host.url,
          host.queues.join(', '),
          e ? `${e.busy}/${e.threads - e.busy}` : 'unreachable',
          e ? String(e.active) : '-',
          e ? String(e.completed) : '-',
          d ? `${d.urls} url(s), ${size(d.bytes)}` : '-',
          d?.memory ? `${size(d.memory.used)}/${size(d.memory.limit)}, ${d.memory.pinned.urls} pinned (${size(d.memory.pinned.size)})` : '-',
          d ? receivedText(d) : '-',
          `${Math.max(0, Date.now() - host.heartbeat)} ms ago`,
          ...(flags.wide ? [host.envs?.join(', ') || '-', d?.memory?.urls.filter((u) => u.pinned).map((u) => u.url).join(', ') || '-'] : []),
        ]);
      });
      this.log(`${hosts.length} live node(s)`);
      this.log(nodes.toString());
      const waiting = new Table({ ...style, head: ['queue', 'waiting jobs'] });
      for (const [name, length] of Object.entries(queues)) waiting.push([name, String(length)]);
      this.log(Object.keys(queues).length ? waiting.toString() : 'no jobs waiting');
    } catch (error) {
      this.error((error as Error).message, { exit: 1 });
    } finally {
      await head.close();
    }
  }
}

function size(n: number): string {
  return formatBytes(n, { unitSeparator: ' ' }) ?? `${n} B`;
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('timeout')), ms);
    promise.then((v) => { clearTimeout(timer); resolve(v); }, (e: unknown) => { clearTimeout(timer); reject(e); });
  });
}

function receivedText(d: { received: { copies: number; bytes: number }; relayed?: { reads: number; bytes: number } }): string {
  const copies = `${d.received.copies} cop${d.received.copies === 1 ? 'y' : 'ies'}, ${size(d.received.bytes)}`;
  return d.relayed?.reads ? `${copies}; relayed ${d.relayed.reads} read(s), ${size(d.relayed.bytes)}` : copies;
}
