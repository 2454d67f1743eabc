/**
 * Every NATS subject the cluster uses (architecture §4), under the bus's optional prefix.
 * NATS only notifies: each of these has a Redis fallback.
 */
interface SubjectMaker {
  subject(...tokens: string[]): string;
}

/** Queue `queue` has new jobs: nodes serving it claim now instead of at their next poll. */
export function wakeSubject(bus: SubjectMaker, queue: string): string {
  return bus.subject('ks', 'wake', queue);
}

/** Jobs were cancelled (CBOR list of ids): the nodes running them stop them. */
export function cancelSubject(bus: SubjectMaker): string {
  return bus.subject('ks', 'cancel');
}

/** The subject a head node receives the events of its jobs on. */
export function eventSubject(bus: SubjectMaker, head: string): string {
  return bus.subject('ks', 'ev', head);
}

/** Node `name` joined or is leaving (`joined` / `leaving`); `'>'` listens to every node. */
export function nodeSubject(bus: SubjectMaker, name: string): string {
  return bus.subject('ks', 'node', name);
}
