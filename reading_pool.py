"""Reading pictures in processes side by side: predict.py's, serve.py's and read_many.py's.

Reading a picture (decoding, digit_image's steps) is mostly Python, which threads cannot run
at once, so a run with many pictures reads them in a pool of processes. A process that dies
(a crash inside a decoder, the kernel's out-of-memory killer) costs only the picture it was
on. The processes are started with "spawn": they import what they run by module name, so a
task is a function of a module (read_chunk, recognize.read), never a lambda or a closure.
"""

import collections
import concurrent.futures
import itertools
import multiprocessing
import os
import signal
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

import common
import recognize

READ_CHUNK = 8  # pictures per task handed to a reading process: fewer round trips
# Why a picture was not read when its reading process died on it twice.
READER_STOPPED = ("could not be read (the reading process stopped: a crash in a decoder, or "
                  "out of memory)")


def cores():
    """The CPU cores this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


def read_in_processes(named, workers, ahead, debug):
    """The Readings of the (path, error) pairs in order, read by workers processes, at most
    ahead pictures before the one yielded.

    A process that dies costs only the picture it was on: the pool is started again, its
    chunk is read again a picture at a time, and a picture on which a reading process dies
    twice is answered with that.
    """
    chunks = iter(lambda: list(itertools.islice(named, READ_CHUNK)), [])
    pool = start(workers)
    window = collections.deque()  # (chunk, deaths, future), in input order
    try:
        while True:
            while len(window) * READ_CHUNK < ahead and (chunk := next(chunks, None)):
                window.append((chunk, 0, submit(pool, read_chunk, chunk, debug)))
            if not window:
                return
            chunk, deaths, future = window.popleft()
            try:
                yield from future.result()
                continue
            except BrokenProcessPool:
                pass
            stop(pool)
            pool = start(workers)
            # Chunks already read keep their result; the others are read again.
            window = collections.deque(
                (c, d, f if f.done() and not f.exception() else
                 submit(pool, read_chunk, c, debug)) for c, d, f in window)
            if len(chunk) > 1 or deaths == 0:
                for path, error in reversed(chunk):
                    window.appendleft(([(path, error)], deaths + (len(chunk) == 1),
                                       submit(pool, read_chunk, [(path, error)], debug)))
            else:
                path, error = chunk[0]
                yield recognize.read(path, error or READER_STOPPED)
    finally:  # Stopped early (Ctrl-C, a closed pipe): the reads not yet begun are dropped.
        pool.shutdown(cancel_futures=True)


def start(workers):
    """A pool of workers processes to read pictures in. Started afresh, not forked: no copy
    of a loaded model or of its threads. Ctrl-C is the parent's to handle."""
    return ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                               initializer=signal.signal, initargs=(signal.SIGINT, signal.SIG_IGN))


def submit(pool, function, *arguments):
    """pool.submit(); a pool broken meanwhile gives a future that says so (the pool may also
    fail on its own closed pipes then)."""
    try:
        return pool.submit(function, *arguments)
    except (BrokenProcessPool, OSError, ValueError) as broken:
        future = concurrent.futures.Future()
        future.set_exception(BrokenProcessPool(broken))
        return future


def stop(pool):
    """Shuts a broken pool down without waiting, its processes stopped. Python 3.11's pool can
    start a process just after it found another dead, and then waits for it forever."""
    processes = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        process.kill()


def read_chunk(chunk, debug):
    """Readings of some (path, error) pairs: the task of a reading process."""
    return [read_picture(path, error, debug) for path, error in chunk]


def read_picture(source, error, debug=False, name=None):
    """recognize.read(); a picture that fails in a way nobody foresaw is answered with the
    error, as an unreadable one is, so that the others are still answered (debug: raised).
    source is a path or a file's bytes; name, when given, is the record's "path" (read_many.py
    reads a picture by its absolute path, or a URI's bytes, under the name it was given)."""
    try:
        return recognize.read(source, error, name=name)
    except Exception as bug:
        if debug:
            raise
        reason = f"could not be read ({type(bug).__name__}: {common.first_line(bug)})"
        return recognize.read(source, reason, name=name)
