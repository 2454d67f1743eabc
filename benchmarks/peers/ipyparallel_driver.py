"""ipyparallel (Debian's python3-ipyparallel): ipyparallel.Cluster(n=2) started from here (one
controller with the pure ZMQ task scheduler, 2 engines, local launchers, loopback, a temporary
IPYTHONDIR), a LoadBalancedView: map_async for bulks (one task per item, the default
chunksize=1; chunksize=N for the chunked bulk), apply_sync for a round trip, and for output AsyncResult.stream_output() on a DirectView of one engine (the engine's
stdout arriving over iopub; stream_output needs to know the engine, which a load-balanced
call does not until it runs)."""
import contextlib
import io
import os
import shutil
import sys
import tempfile
import threading
import time
from importlib.metadata import version

from peer_common import latencies_ms, serve

state = {"dir": tempfile.mkdtemp(prefix="peer-ipp-")}
os.environ["IPYTHONDIR"] = state["dir"]

import ipyparallel  # noqa: E402  (after IPYTHONDIR is set)

import peer_tasks  # noqa: E402


def start_once():
    cluster = ipyparallel.Cluster(
        n=2, controller_ip="127.0.0.1", log_level=30,
        # the pure ZMQ task scheduler: documented as faster than the default Python one (no
        # dependencies or retries, which these workloads do not use)
        controller_args=["--TaskScheduler.scheme_name=pure"],
    )
    state["cluster"] = cluster
    rc = cluster.start_and_connect_sync()
    state["client"] = rc
    state["view"] = rc.load_balanced_view()
    noop_bulk(200)


def start():
    # With the pure scheduler, an engine the controller unregisters during start-up (seen once
    # on the busy machine) turns load balancing off for good ("task farming is disabled"):
    # start again once if so.
    try:
        start_once()
    except RuntimeError as error:
        print(f"ipyparallel: starting again after: {error}", file=sys.stderr)
        stop_cluster()
        start_once()
    rc = state["client"]
    pids = [pid for pid in rc[:].apply_sync(os.getpid)]
    controller = getattr(state["cluster"].controller, "process", None)
    if controller is not None:
        pids.append(controller.pid)
    return {"version": version("ipyparallel"), "pids": pids}


def stop_cluster():
    if "client" in state:
        state.pop("client").close()
    if "cluster" in state:
        state.pop("cluster").stop_cluster_sync()


def stop():
    stop_cluster()
    shutil.rmtree(state["dir"], ignore_errors=True)


def noop_bulk(n, **map_options):
    view = state["view"]
    t0 = time.perf_counter()
    results = view.map_async(peer_tasks.noop, range(n), **map_options).get()
    seconds = time.perf_counter() - t0
    if len(results) != n or results[-1] != n - 1:
        raise RuntimeError("wrong results")
    return {"seconds": seconds}


def noop_chunked(n, chunk):
    return noop_bulk(n, chunksize=chunk)


def mb_bulk(n, size):
    view = state["view"]
    t0 = time.perf_counter()
    results = view.map_async(peer_tasks.one_mb, [size] * n).get()
    seconds = time.perf_counter() - t0
    if len(results) != n or any(len(r) != size for r in results):
        raise RuntimeError("wrong results")
    return {"seconds": seconds}


def roundtrip(n):
    view = state["view"]

    def one_call(i):
        if view.apply_sync(peer_tasks.noop, i) != i:
            raise RuntimeError("wrong result")

    return latencies_ms(one_call, n)


class LineWatcher(io.TextIOBase):
    """Where stream_output() writes while we wait: notes when the last line has arrived."""

    def __init__(self, last_line):
        self.text = []
        self.tail = ""
        self.last_line = last_line + "\n"
        self.at = None
        self.done = threading.Event()

    def write(self, chunk):
        self.text.append(chunk)
        self.tail = (self.tail + chunk)[-len(self.last_line) - 1:]
        if self.at is None and self.tail.endswith(self.last_line):
            self.at = time.perf_counter()
            self.done.set()
        return len(chunk)


def print_lines(n):
    # stream_output() needs to know the engine, so this one call goes to engine 0 directly
    view = state["client"][0]
    watcher = LineWatcher(f"line {n - 1}")
    with contextlib.redirect_stdout(watcher):
        t0 = time.perf_counter()
        ar = view.apply_async(peer_tasks.print_lines, n)
        with ar.stream_output():
            if not watcher.done.wait(60):
                raise TimeoutError("the last line did not arrive")
            ar.get()
    lines = sum(1 for line in "".join(watcher.text).splitlines() if line.startswith("line "))
    if lines != n:
        raise RuntimeError(f"saw {lines} of {n} lines")
    return {"ms": (watcher.at - t0) * 1000}


if __name__ == "__main__":
    serve(start, {"noop_bulk": noop_bulk, "noop_chunked": noop_chunked, "roundtrip": roundtrip, "mb_bulk": mb_bulk, "print_lines": print_lines}, stop)
