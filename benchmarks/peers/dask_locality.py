"""The locality workload of `npm run bench:locality` on Dask distributed (Debian's python3-distributed).

One run per invocation, so that benchmarks/locality.ts can alternate it with kitchensink's runs:
a `dask scheduler` and three `dask worker --nthreads 2 --no-nanny` processes on loopback (each its
own process, so /proc gives each one's CPU time), the datasets placed on the workers the way
kitchensink's are placed on its nodes, and the tasks submitted unpinned (no `workers=`): Dask's
scheduler decides where each runs, by where its input is.

Usage: python3 dask_locality.py '<json>' with
  variant   "memory": each task hashes its dataset held in the worker's memory (client.scatter
                      to the holder); "file": each task also re-reads its dataset's file first and
                      hashes that, like kitchensink's file-reading task (the scattered bytes only
                      tell the scheduler where the dataset lives);
            "wait":   the skewed workload: each task takes its dataset and waits `waitMs`.
  holders   the worker index (0-2) holding each dataset
  order     the dataset index of each task, in submit order
            "baseline": no cluster: prints the CPU seconds of one task's own work in this process,
                        {"memory": s, "file": s}.
  mb, work, waitMs, dir (an empty directory for the datasets' files), schedulerPort
Prints one JSON line: makespanS, bytesMoved, copies, localShare, cpuS (scheduler + workers),
perWorker, version.
"""
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from importlib.metadata import version

WORKERS = 3


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        stat = f.read()
    fields = stat[stat.rindex(")") + 2:].split(" ")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def hash_work(data, work):
    digest = hashlib.sha256(data).digest()
    block = data[: 1 << 20]
    for _ in range(work):
        digest = hashlib.sha256(digest + block).digest()
    return digest.hex()[:12]


def task_memory(data, work):
    from distributed import get_worker

    return get_worker().address, hash_work(data, work)


def task_file(data, path, work):
    from distributed import get_worker

    with open(path, "rb") as f:
        own = f.read()
    return get_worker().address, hash_work(own, work)


def task_wait(data, wait_ms):
    from distributed import get_worker

    time.sleep(wait_ms / 1000)
    return get_worker().address, len(data)


def incoming_bytes(dask_worker):
    # the attribute's name changed in distributed 2022.10 (incoming_transfer_log -> transfer_incoming_log)
    log = getattr(dask_worker, "transfer_incoming_log", None)
    if log is None:
        log = getattr(dask_worker, "incoming_transfer_log", [])
    return [entry.get("total", 0) for entry in log]


def baseline(config):
    """CPU seconds of one task's own work in this process (no cluster): read + hash, or hash only."""
    data = os.urandom(int(config["mb"] * 1_000_000))
    path = os.path.join(config["dir"], "baseline")
    with open(path, "wb") as f:
        f.write(data)
    times = {}
    for read in ("memory", "file"):
        samples = []
        for _ in range(3):
            t0 = time.process_time()
            if read == "file":
                with open(path, "rb") as f:
                    hash_work(f.read(), config["work"])
            else:
                hash_work(data, config["work"])
            samples.append(time.process_time() - t0)
        times[read] = sorted(samples)[1]
    os.remove(path)
    print(json.dumps(times))


def main():
    config = json.loads(sys.argv[1])
    if config["variant"] == "baseline":
        return baseline(config)
    from dask.distributed import Client

    address = f"tcp://127.0.0.1:{config['schedulerPort']}"
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    procs = [subprocess.Popen(["dask", "scheduler", "--host", "127.0.0.1", "--port", str(config["schedulerPort"]),
                               "--dashboard-address", ":0", "--no-show"], **quiet)]
    try:
        for i in range(WORKERS):
            procs.append(subprocess.Popen(["dask", "worker", address, "--nthreads", "2", "--no-nanny", "--name", f"w{i}",
                                           "--host", "127.0.0.1", "--memory-limit", "0", "--dashboard-address", ":0",
                                           "--local-directory", os.path.join(config["dir"], f"w{i}")], **quiet))
        client = Client(address, timeout=60)
        client.wait_for_workers(WORKERS, timeout=60)
        by_name = {info["name"]: addr for addr, info in client.scheduler_info()["workers"].items()}
        workers = [by_name[f"w{i}"] for i in range(WORKERS)]

        size = int(config["mb"] * 1_000_000)
        datasets, paths = [], []
        for j, holder in enumerate(config["holders"]):
            data = os.urandom(size)
            path = os.path.join(config["dir"], f"dataset-{j:02d}")
            if config["variant"] == "file":
                with open(path, "wb") as f:
                    f.write(data)
            [future] = client.scatter([data], workers=[workers[holder]], broadcast=False)
            datasets.append(future)
            paths.append(path)
            del data
        client.run(lambda: __import__("gc").collect())
        moved_before = sum(sum(v) for v in client.run(incoming_bytes).values())
        copies_before = sum(len(v) for v in client.run(incoming_bytes).values())

        pids = [p.pid for p in procs]
        cpu_before = sum(cpu_seconds(pid) for pid in pids)
        t0 = time.perf_counter()
        if config["variant"] == "memory":
            futures = [client.submit(task_memory, datasets[j], config["work"], pure=False) for j in config["order"]]
        elif config["variant"] == "file":
            futures = [client.submit(task_file, datasets[j], paths[j], config["work"], pure=False) for j in config["order"]]
        else:
            futures = [client.submit(task_wait, datasets[j], config["waitMs"], pure=False) for j in config["order"]]
        results = client.gather(futures)
        makespan = time.perf_counter() - t0
        cpu = sum(cpu_seconds(pid) for pid in pids) - cpu_before

        moved = client.run(incoming_bytes)
        per_worker = {}
        local = 0
        for (addr, _), j in zip(results, config["order"]):
            name = f"node{workers.index(addr) + 1}"
            per_worker[name] = per_worker.get(name, 0) + 1
            local += addr == workers[config["holders"][j]]
        print(json.dumps({
            "makespanS": makespan,
            "bytesMoved": sum(sum(v) for v in moved.values()) - moved_before,
            "copies": sum(len(v) for v in moved.values()) - copies_before,
            "localShare": local / len(results),
            "cpuS": cpu,
            "perNode": per_worker,
            "version": version("distributed"),
        }))
        client.close()
    finally:
        for p in reversed(procs):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        deadline = time.time() + 10
        for p in procs:
            try:
                p.wait(max(0.1, deadline - time.time()))
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


if __name__ == "__main__":
    main()
