/**
 * Bytes that cross a MessagePort or are kept for long. Structured cloning copies a view's
 * whole ArrayBuffer, and a kept view keeps its whole ArrayBuffer alive: cbor-x returns views
 * of a shared buffer that grows to the largest value it encoded (4 MiB after one 1 MiB
 * result), and ioredis replies are views of socket chunks. Note that `Buffer#slice` is a
 * view too, not a copy.
 */

/** Copies views into one ArrayBuffer of their total size and returns views of it, in order. */
export function packViews(views: readonly Uint8Array[]): Uint8Array[] {
  let total = 0;
  for (const view of views) total += view.byteLength;
  const buffer = new ArrayBuffer(total);
  const out: Uint8Array[] = new Array(views.length);
  let offset = 0;
  for (let i = 0; i < views.length; i++) {
    const view = views[i];
    const copy = new Uint8Array(buffer, offset, view.byteLength);
    copy.set(view);
    out[i] = copy;
    offset += view.byteLength;
  }
  return out;
}
