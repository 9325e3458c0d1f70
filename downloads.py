"""Downloading one file for preprocess.py, from an http://, https:// or file:// URL, with the
limits that keep a bad mirror from holding up the run or filling the disk.

A download that is too large, crawls, or takes too long raises a ValueError of one line
naming the file, and preprocess.py moves on to the next source. A failure leaves no file
behind.
"""

import contextlib
import http.client
import signal
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

import common
import safe_files

# No file is read, downloaded or decompressed past this many bytes: the largest MNIST file,
# train-images-idx3-ubyte, holds 47,040,016. Beyond it a file is wrong content.
MAX_FILE_BYTES = 50_000_000
# A download gives way to the next source when it receives less than MIN_RATE bytes a second
# over any --timeout seconds, or is not done in MAX_SECONDS (the largest .gz, 9.9 MB, needs
# 16.5 kB/s for that).
MIN_RATE = 10_000
MAX_SECONDS = 600


def show_progress(name, done, total, last_step):
    """One updating line on a terminal, else a line per quarter; returns the step reached."""
    if 0 < total < 1_000_000:
        return last_step  # Small files arrive at once; a display would only add noise.
    line = f"  {name}: {done / 1e6:.1f} MB"
    if total:
        line += f" of {total / 1e6:.1f} [{'#' * (30 * done // total):30}] {100 * done // total}%"
    step = 4 * done // total if total else done // 4_000_000
    if sys.stderr.isatty():
        print(f"\r{line}", end="", file=sys.stderr, flush=True)
    elif step > last_step:
        print(line, file=sys.stderr)
    return step


def download(url, cache_path, timeout, verify):
    """Downloads url and moves it to cache_path only if verify(file) passes; returns what
    verify returned. A failure leaves no file behind (common.atomic_write)."""
    result = None

    def write_verified(tmp):
        nonlocal result
        with open(tmp, "wb") as file:
            if urllib.parse.urlsplit(url).scheme == "file":
                copy_local(url, file, cache_path.name)
            else:
                receive(url, file, timeout, cache_path.name)
        result = verify(tmp)

    common.atomic_write(cache_path, write_verified)
    return result


def copy_local(url, file, name):
    """Copies the regular file a file:// URL names into file, up to MAX_FILE_BYTES."""
    parts = urllib.parse.urlsplit(url)
    if parts.netloc not in ("", "localhost"):
        raise ValueError(f"{name}: a file:// URL of another machine ({parts.netloc})")
    path = urllib.request.url2pathname(parts.path)
    try:
        with safe_files.open_input(path) as source:
            for chunk in safe_files.file_chunks(source, MAX_FILE_BYTES, name):
                file.write(chunk)
    except safe_files.Refused as error:
        raise ValueError(f"{name}: {error}") from None


def http_opener():
    """urllib's opener for http:// and https:// alone: a redirect to any other scheme (ftp://,
    file://) is refused as an unknown one."""
    opener = urllib.request.OpenerDirector()
    for handler in (urllib.request.ProxyHandler(), urllib.request.UnknownHandler(),
                    urllib.request.HTTPHandler(), urllib.request.HTTPSHandler(),
                    urllib.request.HTTPDefaultErrorHandler(),
                    urllib.request.HTTPRedirectHandler(), urllib.request.HTTPErrorProcessor()):
        opener.add_handler(handler)
    return opener


def receive(url, file, timeout, name):
    """Writes the body at an http(s):// url into file. Each read may wait --timeout seconds;
    every --timeout seconds must bring MIN_RATE bytes a second; the whole, headers included,
    must be done in MAX_SECONDS; and it may not pass MAX_FILE_BYTES (a larger announced size
    is refused before the body). Every failure is a ValueError of one line naming the file."""
    total, done, step = 0, 0, -1
    try:
        with deadline(MAX_SECONDS), http_opener().open(url, timeout=timeout) as reply:
            total = content_length(reply, name)
            window_start, window_bytes = time.monotonic(), 0
            # read1 returns what has come, where read(n) would wait for all n bytes.
            while chunk := reply.read1(1 << 16):
                done += len(chunk)
                if done > MAX_FILE_BYTES:
                    raise ValueError(f"{name}: more than {MAX_FILE_BYTES:,} bytes, larger than "
                                     "any MNIST file")
                file.write(chunk)
                step = show_progress(name, done, total, step)
                window_bytes, now = window_bytes + len(chunk), time.monotonic()
                if now - window_start >= timeout:
                    if window_bytes < MIN_RATE * (now - window_start):
                        raise ValueError(f"{name}: under {MIN_RATE:,} bytes/s over {timeout:g} s "
                                         f"(--timeout), {done:,} bytes in")
                    window_start, window_bytes = now, 0
    except Overdue:
        raise ValueError(f"{name}: not done in {MAX_SECONDS:g} s, the limit for one file "
                         f"({done:,} bytes in)") from None
    except (OSError, http.client.HTTPException) as error:
        raise ValueError(f"{name}: {network_reason(error, timeout)}") from error
    finally:
        if step >= 0 and sys.stderr.isatty():
            print(file=sys.stderr)  # Ends the progress line.
    # http.client ends a body that was cut short without an error, so count the bytes.
    if total and done != total:
        raise ValueError(f"{name}: connection closed after {done} of {total} bytes")


def content_length(reply, name):
    """The size the server announces (0: none), refused when it is not a number or passes
    MAX_FILE_BYTES, before the body is read."""
    values = set(reply.headers.get_all("Content-Length") or [])
    if not values:
        return 0
    value = values.pop().strip()
    if values or not value.isdigit():
        shown = ", ".join(repr(v) for v in sorted({value, *values}))[:80]
        raise ValueError(f"{name}: the server sent a bad Content-Length ({shown})")
    if int(value) > MAX_FILE_BYTES:
        raise ValueError(f"{name}: the server announces {int(value):,} bytes, more than any "
                         f"MNIST file ({MAX_FILE_BYTES:,} at most)")
    return int(value)


def network_reason(error, timeout):
    """Why a download failed, in one line."""
    if isinstance(error, urllib.error.HTTPError) and 300 <= error.code < 400:
        return (f"HTTP {error.code}: redirected in a loop, or more than "
                f"{urllib.request.HTTPRedirectHandler.max_redirections} times")
    # A plain URLError only wraps the cause ("<urlopen error ...>"); HTTPError reads well.
    reason = error.reason if type(error) is urllib.error.URLError else error
    if isinstance(reason, TimeoutError):
        return f"no data for {timeout:g} s (--timeout)"
    return common.first_line(reason) if str(reason) else type(reason).__name__


class Overdue(BaseException):
    """Raised by deadline(); not an Exception, so that no library's handler takes it."""


@contextlib.contextmanager
def deadline(seconds):
    """Raises Overdue where the main thread is when seconds have passed (and every second
    after, until the block ends): even inside a read that a server feeds a byte at a time,
    which no per-read timeout ends. Elsewhere than in the main thread, which alone receives
    signals, it does nothing."""
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal,
                                                                                 "SIGALRM"):
        yield
        return

    def expire(signum, frame):
        raise Overdue

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds, 1)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
