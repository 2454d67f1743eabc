import { Flags } from '@oclif/core';
import Table from 'cli-table3';
import { Client, type NodeStatusInfo } from '../../src/client/client.js';
import type { NodeInfo } from '../../src/protocol.js';
import { ClientCommand } from '../client-command.js';
import { clientFlags } from '../client-flags.js';
import { fitColumns } from '../fit-columns.js';
import { formatSize } from '../sizes.js';

/** What `ks status --json` prints. */
interface StatusReport {
  nodes: (NodeInfo & { status: NodeStatusInfo | null })[];
  queues: Record<string, number>;
}

export default class Status extends ClientCommand {
  static override description = 'Show the live nodes (threads busy/free, running jobs, data held), and the waiting jobs per queue';
  static override flags = {
    ...clientFlags,
    wide: Flags.boolean({ default: false, description: 'also show each node\'s url, memory tier, copies received from peers, environments (--env) and the urls it holds pinned in memory' }),
  };

  async run(): Promise<StatusReport> {
    const { flags } = await this.parse(Status);
    const head = new Client(this.nodeUrl(flags), { token: flags.token, output: 'silent' });
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
      this.log(`${hosts.length} live node(s)`);
      this.log(nodesTable(hosts, statuses, flags.wide));
      const waiting = new Table({ ...plainStyle(), head: ['queue', 'waiting jobs'] });
      for (const [name, length] of Object.entries(queues)) waiting.push([name, String(length)]);
      this.log(Object.keys(queues).length ? waiting.toString() : 'no jobs waiting');
      return { nodes: hosts.map((h, i) => ({ ...h, status: statuses[i] })), queues };
    } catch (error) {
      return this.fail(error, flags);
    } finally {
      await head.close();
    }
  }
}

/** The nodes table: within 100 columns (or the terminal's width) unless `wide`. */
function nodesTable(hosts: NodeInfo[], statuses: (NodeStatusInfo | null)[], wide: boolean): string {
  const head = ['node', 'queues', 'busy/free', 'running', 'completed', 'data held', 'heartbeat', ...(wide ? ['url', 'in memory (used/budget, pinned)', 'received from peers', 'environments', 'pinned in memory'] : [])];
  const rows = hosts.map((host, i) => {
    const s = statuses[i];
    const e = s?.executor;
    const d = s?.data;
    return [
      host.name + (host.readOnly ? ' (read-only)' : ''),
      host.queues.join(', '),
      e ? `${e.busy}/${e.threads - e.busy}` : 'unreachable',
      e ? String(e.active) : '-',
      e ? String(e.completed) : '-',
      d ? `${d.urls} url(s), ${formatSize(d.bytes)}` : '-',
      `${(Math.max(0, Date.now() - host.heartbeat) / 1000).toFixed(1)} s ago`,
      ...(wide ? [
        host.url,
        d?.memory ? `${formatSize(d.memory.used)}/${formatSize(d.memory.limit)}, ${d.memory.pinned.urls} pinned (${formatSize(d.memory.pinned.size)})` : '-',
        d ? receivedText(d) : '-',
        host.envs?.join(', ') || '-',
        d?.memory?.urls.filter((u) => u.pinned).map((u) => u.url).join(', ') || '-',
      ] : []),
    ];
  });
  const limit = Math.min(100, process.stdout.columns || 100);
  const fit = wide ? {} : { colWidths: fitColumns(head, rows, limit, [0, 1, 5]), wordWrap: true, wrapOnWordBoundary: false };
  const table = new Table({ ...plainStyle(), head, ...fit });
  table.push(...rows);
  return table.toString();
}

function plainStyle(): Partial<Table.TableConstructorOptions> {
  return process.stdout.isTTY ? {} : { style: { head: [], border: [] } };
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('timeout')), ms);
    promise.then((v) => { clearTimeout(timer); resolve(v); }, (e: unknown) => { clearTimeout(timer); reject(e); });
  });
}

function receivedText(d: { received: { copies: number; bytes: number }; relayed?: { reads: number; bytes: number } }): string {
  const copies = `${d.received.copies} cop${d.received.copies === 1 ? 'y' : 'ies'}, ${formatSize(d.received.bytes)}`;
  return d.relayed?.reads ? `${copies}; relayed ${d.relayed.reads} read(s), ${formatSize(d.relayed.bytes)}` : copies;
}
