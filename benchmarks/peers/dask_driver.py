"""Dask distributed (Debian's python3-distributed): LocalCluster(n_workers=2, threads_per_worker=1,
processes=True) on loopback and a Client; client.map + client.gather for bulks (distinct
arguments each run, since pure tasks with equal keys would be served from memory),
client.submit(...).result() for a round trip, and distributed.print in the task with
client.subscribe_topic("print", ...) in the client for output (Dask's documented remote print)."""
import itertools
import logging
import shutil
import tempfile
import threading
import time
from importlib.metadata import version

from peer_common import latencies_ms, serve

import peer_tasks

state = {}
fresh = itertools.count(1_000_000)


def start():
    from dask.distributed import Client, LocalCluster

    state["dir"] = tempfile.mkdtemp(prefix="peer-dask-")
    cluster = LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", scheduler_port=0,
        dashboard_address=None, local_directory=state["dir"], silence_logs=logging.WARNING,
    )
    state["cluster"] = cluster
    client = Client(cluster)
    state["client"] = client
    client.wait_for_workers(2)
    noop_bulk(200)
    worker_pids = list(client.run(lambda: __import__("os").getpid()).values())
    nanny_pids = [w.process.pid for w in cluster.workers.values() if getattr(w, "process", None) and w.process.pid]
    return {"version": version("distributed"), "pids": worker_pids + nanny_pids}


def stop():
    if "client" in state:
        state["client"].close()
    if "cluster" in state:
        state["cluster"].close()
    if "dir" in state:
        shutil.rmtree(state["dir"], ignore_errors=True)


def distinct_range(n):
    start = next(fresh) * 100_000
    return range(start, start + n)


def noop_bulk(n):
    client = state["client"]
    args = distinct_range(n)
    t0 = time.perf_counter()
    results = client.gather(client.map(peer_tasks.noop, args))
    seconds = time.perf_counter() - t0
    if len(results) != n or results[-1] != args[-1]:
        raise RuntimeError("wrong results")
    return {"seconds": seconds}


def noop_chunked(n, chunk):
    # client.map's batch_size batches the submission only: still one task per item.
    return {"na": "Dask's client.map has no chunking knob (batch_size batches submission, still one task per item)"}


def mb_bulk(n, size):
    client = state["client"]
    # pure=False: equal arguments, n distinct tasks (one_mb is not pure: it returns fresh random bytes)
    t0 = time.perf_counter()
    results = client.gather(client.map(peer_tasks.one_mb, [size] * n, pure=False))
    seconds = time.perf_counter() - t0
    if len(results) != n or any(len(r) != size for r in results):
        raise RuntimeError("wrong results")
    return {"seconds": seconds}


def roundtrip(n):
    client = state["client"]
    args = distinct_range(n + 100)

    def one_call(i):
        x = args[i + 50]
        if client.submit(peer_tasks.noop, x).result() != x:
            raise RuntimeError("wrong result")

    return latencies_ms(one_call, n)


def print_lines(n):
    client = state["client"]
    last_line = f"line {n - 1}"
    seen = {"lines": 0, "at": None}
    done = threading.Event()

    def on_print(event):
        _, message = event
        seen["lines"] += 1
        if message["args"] == (last_line,) or message["args"] == [last_line]:
            seen["at"] = time.perf_counter()
            done.set()

    client.subscribe_topic("print", on_print)
    try:
        t0 = time.perf_counter()
        future = client.submit(peer_tasks.dask_print_lines, n, pure=False)
        if not done.wait(60):
            raise TimeoutError(f"saw {seen['lines']} of {n} lines")
        future.result()
    finally:
        client.unsubscribe_topic("print")
    if seen["lines"] != n:
        raise RuntimeError(f"saw {seen['lines']} of {n} lines")
    return {"ms": (seen["at"] - t0) * 1000}


if __name__ == "__main__":
    serve(start, {"noop_bulk": noop_bulk, "noop_chunked": noop_chunked, "roundtrip": roundtrip, "mb_bulk": mb_bulk, "print_lines": print_lines}, stop)
