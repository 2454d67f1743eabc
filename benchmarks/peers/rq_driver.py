"""python-rq (Debian's python3-rq): a private redis-server, 2 `rq worker` processes
(SimpleWorker: RQ's documented choice for jobs of a few milliseconds, where fork() per job
would dominate), Queue.enqueue_many for bulks. RQ has no push of results to the producer:
the producer polls, as RQ documents, the queue's FinishedJobRegistry (count) until every job is
there, then reads each job's return_value(). A single round trip polls job.get_status()."""
import os
import subprocess
import sys
import time
from importlib.metadata import version

from peer_common import RedisServer, latencies_ms, serve, stop_process

import peer_tasks
from redis import Redis
from rq import Queue
from rq.job import Job, JobStatus

NUM_WORKERS = 2
BULK_POLL_S = 0.01
SINGLE_POLL_S = 0.0005
TIMEOUT_S = 300
# RQ_BENCH_WORKER_CLASS=rq.worker.Worker measures RQ's default, forking worker instead
WORKER_CLASS = os.environ.get("RQ_BENCH_WORKER_CLASS", "rq.worker.SimpleWorker")

state = {}


def start():
    redis = RedisServer()
    state["redis"] = redis
    here = os.path.dirname(os.path.abspath(__file__))
    state["workers"] = [
        subprocess.Popen(
            [sys.executable, "-m", "rq.cli", "worker", "--url", redis.url, "--path", here,
             "--worker-class", WORKER_CLASS, "--logging_level", "WARNING",
             "--name", f"bench-{os.getpid()}-{i}", "default"],
            stdout=subprocess.DEVNULL, stderr=sys.stderr,
        )
        for i in range(NUM_WORKERS)
    ]
    connection = Redis.from_url(redis.url)
    state["connection"] = connection
    state["queue"] = Queue("default", connection=connection)
    deadline = time.time() + 30
    while len(connection.smembers("rq:workers")) < NUM_WORKERS:
        if time.time() > deadline:
            raise RuntimeError("rq workers did not register")
        time.sleep(0.05)
    noop_bulk(200)
    return {"version": version("rq"), "pids": [redis.process.pid] + [w.pid for w in state["workers"]]}


def stop():
    for worker in state.get("workers", []):
        stop_process(worker)
    if "redis" in state:
        state["redis"].stop()


def run_bulk(func, args_list):
    """enqueue_many, wait until the finished registry holds every job, read the results."""
    queue = state["queue"]
    finished = queue.finished_job_registry
    failed = queue.failed_job_registry
    base_finished, base_failed = finished.count, failed.count
    t0 = time.perf_counter()
    jobs = queue.enqueue_many([Queue.prepare_data(func, args) for args in args_list])
    deadline = time.time() + TIMEOUT_S
    while finished.count < base_finished + len(jobs):
        if failed.count > base_failed:
            raise RuntimeError("an rq job failed")
        if time.time() > deadline:
            raise TimeoutError("rq bulk did not finish")
        time.sleep(BULK_POLL_S)
    results = [job.return_value() for job in jobs]
    seconds = time.perf_counter() - t0
    delete_jobs(jobs)
    return seconds, results


def delete_jobs(jobs):
    pipeline = state["connection"].pipeline()
    for job in jobs:
        job.delete(pipeline=pipeline)
    pipeline.execute()


def noop_bulk(n):
    seconds, results = run_bulk(peer_tasks.noop, [(i,) for i in range(n)])
    if len(results) != n or results[-1] != n - 1:
        raise RuntimeError("wrong results")
    return {"seconds": seconds}


def mb_bulk(n, size):
    seconds, results = run_bulk(peer_tasks.one_mb, [(size,)] * n)
    if len(results) != n or any(len(r) != size for r in results):
        raise RuntimeError("wrong results")
    return {"seconds": seconds}


def one_call(i):
    job = state["queue"].enqueue(peer_tasks.noop, i)
    while True:
        status = job.get_status(refresh=True)
        if status == JobStatus.FINISHED:
            break
        if status == JobStatus.FAILED:
            raise RuntimeError("an rq job failed")
        time.sleep(SINGLE_POLL_S)
    if job.return_value() != i:
        raise RuntimeError("wrong result")
    job.delete()


def roundtrip(n):
    return latencies_ms(one_call, n)


def noop_chunked(n, chunk):
    return {"na": "RQ documents no chunking: enqueue_many enqueues one job per item"}


def print_lines(n):
    return {"na": "RQ does not forward a job's output to the producer (it goes to the worker's log)"}


if __name__ == "__main__":
    serve(start, {"noop_bulk": noop_bulk, "noop_chunked": noop_chunked, "roundtrip": roundtrip, "mb_bulk": mb_bulk, "print_lines": print_lines}, stop)
