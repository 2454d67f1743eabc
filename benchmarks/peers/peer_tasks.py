"""The tasks every Python peer runs (imported by RQ workers by name; pickled by Dask and ipyparallel)."""
import os


def noop(x):
    return x


def one_mb(size):
    """Fresh random bytes, so that no system gains from compressing the result."""
    return os.urandom(size)


def print_lines(n):
    for i in range(n):
        print(f"line {i}")
    return n


def dask_print_lines(n):
    """distributed.print: Dask's documented print that also reaches every connected client."""
    from distributed import print as remote_print

    for i in range(n):
        remote_print(f"line {i}")
    return n
