"""What every Python peer driver shares: the line protocol with the runner (run.ts), a private
redis-server, free loopback ports, and the latency sampler.

Protocol: the runner writes one JSON request per line on stdin ({"workload": ..., "params": {...}}
or {"stop": true}); the driver answers each with one line on stdout starting with PROTOCOL_PREFIX
followed by JSON ({"ok": true, "result": {...}} or {"ok": false, "error": "..."}). After start-up
and warm-up it sends {"ready": true, "version": ..., "pids": [...]} the same way. Anything else a
library prints goes to stderr (stdout is re-pointed there), so it cannot garble the protocol.
"""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback

PROTOCOL_PREFIX = "@@peer "
ROUNDTRIP_WARMUP = 20

_protocol_out = os.fdopen(os.dup(1), "w", buffering=1)
os.dup2(2, 1)
sys.stdout = sys.stderr


def send(message):
    _protocol_out.write(PROTOCOL_PREFIX + json.dumps(message) + "\n")
    _protocol_out.flush()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def percentile(sorted_samples, p):
    return sorted_samples[min(len(sorted_samples) - 1, int(p / 100 * len(sorted_samples)))]


def latencies_ms(one_call, n):
    """Runs `one_call(i)` ROUNDTRIP_WARMUP times unmeasured, then n times measured; p50/p99 in ms."""
    for i in range(ROUNDTRIP_WARMUP):
        one_call(-1 - i)
    samples = []
    for i in range(n):
        t0 = time.perf_counter()
        one_call(i)
        samples.append((time.perf_counter() - t0) * 1000)
    samples.sort()
    return {"p50": percentile(samples, 50), "p99": percentile(samples, 99)}


class RedisServer:
    """A private, in-memory redis-server (no RDB, no AOF) on a free loopback port."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="peer-redis-")
        self.port = free_port()
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--dir", self.dir,
             "--save", "", "--appendonly", "no", "--daemonize", "no", "--loglevel", "warning"],
            stdout=subprocess.DEVNULL, stderr=sys.stderr,
        )
        self.url = f"redis://127.0.0.1:{self.port}/0"
        deadline = time.time() + 10
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                if time.time() > deadline or self.process.poll() is not None:
                    raise RuntimeError("redis-server did not come up")
                time.sleep(0.02)

    def stop(self):
        stop_process(self.process)
        shutil.rmtree(self.dir, ignore_errors=True)


def stop_process(process, timeout=10):
    """SIGTERM, then SIGKILL after `timeout` seconds; by pid, never by name."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def serve(start, workloads, stop):
    """Starts the system (`start()` returns {"version", "pids"}), answers requests, then `stop()`."""
    try:
        info = start()
    except Exception:
        send({"ok": False, "error": traceback.format_exc()})
        stop()
        return
    send({"ready": True, **info})
    try:
        for line in sys.stdin:
            request = json.loads(line)
            if request.get("stop"):
                break
            name = request["workload"]
            try:
                if name not in workloads:
                    raise ValueError(f"unknown workload {name}")
                send({"ok": True, "result": workloads[name](**request.get("params", {}))})
            except Exception:
                send({"ok": False, "error": traceback.format_exc()})
    finally:
        stop()
        send({"stopped": True})
