"""The Ray side of read_many.py: Ray started here or joined, and the worker that reads.

Reader is what each Ray worker runs: it loads the model once and answers a batch of pictures
at a time with predict.py's reader and batches, so that each record is the one predict.py
gives. Ray imports this module by name in its workers: the project's folder is on their path
(on a cluster, it is sent with the job as its working folder).
"""

import contextlib
import json
import logging
import os
import re
import socket
import tempfile
import time
import urllib.parse
from pathlib import Path

import numpy as np
import pyarrow
import pyarrow.fs

import common
import model_files
import recognize
import reading_pool
import safe_files

URI = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")
# A picture from a URI is held in memory whole; a 200-megapixel phone JPEG is some 60 MB.
MAX_PICTURE_BYTES = 200_000_000
# What a cluster's workers are sent of the project, as patterns of what to leave out (as in
# .gitignore): everything at the top ("/*" would leave out the top folder itself) but the
# scripts and digit_image.
CODE_ONLY = ["/[!.]*", "/.?*", "!/*.py", "!/digit_image", "!/digit_image/*.py"]
# The opening of an HTTP/2 connection: its preface and an empty SETTINGS frame (RFC 9113, 3.4).
HTTP2_OPENING = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + bytes([0, 0, 0, 4, 0, 0, 0, 0, 0])
TLS_RECORDS = (b"\x15", b"\x16")  # A cluster with TLS answers plain bytes with an alert.
ANSWER_TIMEOUT = 5  # Seconds to wait for a cluster's answer.
# The last line of this form in a Ray error is the worker's own exception.
EXCEPTION_LINE = re.compile(r"[\w.]+(Error|Exception): .+")


@contextlib.contextmanager
def ray_session(address, progress, debug):
    """Starts Ray on this machine's cores, or joins the cluster at address, and gives (its
    start-up in seconds, its CPU cores); stops it at the end. A Ray already started in this
    process (by a notebook, a test) is used as it is and left running."""
    import ray  # Ray takes a second to import: not paid by --help or a mistyped name.

    started = time.perf_counter()
    owned = not ray.is_initialized()
    # What the workers print (Ray's retries and warnings) goes to Ray's log files, unless
    # --debug; a job that fails still says why in one line.
    quiet = {"logging_level": logging.ERROR, "log_to_driver": debug}
    if owned and address is None:
        ray.init(num_cpus=reading_pool.cores(), include_dashboard=False, **quiet)
    elif owned:
        check_reachable(address)
        # The workers get the project's code with the job, as Ray sends a working folder.
        ray.init(address=address, runtime_env={
            "working_dir": str(Path(__file__).resolve().parent), "excludes": CODE_ONLY}, **quiet)
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = progress
    if not (progress or debug):
        # Its "Starting execution" lines, and a failed job's traceback (said in one line).
        logging.getLogger("ray.data").setLevel(logging.CRITICAL)
    try:
        yield time.perf_counter() - started, int(ray.cluster_resources().get("CPU", 1))
    finally:
        if owned:
            ray.shutdown()


def check_reachable(address):
    """Raises UserError unless something answers at a Ray address: Ray itself would retry
    an address where nothing listens for minutes, printing a warning every few seconds."""
    if address == "auto":
        return
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        raise common.UserError(f"--address {address}: expected HOST:PORT, ray://HOST:PORT "
                               "or auto")
    try:
        with socket.create_connection((host, int(port)), timeout=ANSWER_TIMEOUT) as connection:
            # Ray's head (and its client server) speak gRPC, over HTTP/2: to a client's opening
            # they answer with their SETTINGS frame; a web server or a silent port would leave
            # Ray retrying for ever.
            connection.sendall(HTTP2_OPENING)
            answer = b""
            while len(answer) < 9 and (received := connection.recv(9 - len(answer))):
                answer += received
    except OSError as error:
        reason = "no answer" if isinstance(error, TimeoutError) else error.strerror or error
        raise common.UserError(f"--address {address}: no Ray cluster answers there "
                               f"({reason})") from None
    if answer[3:4] != b"\x04" and answer[:1] not in TLS_RECORDS:
        raise common.UserError(f"--address {address}: something answers there, but not a Ray "
                               "cluster (it does not speak gRPC)")


def worker_exception(error):
    """A Ray error in one line: the last "...Error: message" line of its text, which wraps
    the worker's traceback (the exception the worker raised), else its first line."""
    lines = [line.strip() for line in str(error).splitlines()
             if EXCEPTION_LINE.fullmatch(line.strip())]
    return lines[-1] if lines else common.first_line(error)


class Reader:
    """A Ray worker: loads the model once, then answers a batch of pictures at a time with
    predict.py's reader and batches, so that each record is the one predict.py gives."""

    def __init__(self, model_name, model_bytes, folder, options, debug=False):
        # A worker per core: LiteRT's own threads would only contend (digit_image keeps
        # OpenCV to one).
        with tempfile.TemporaryDirectory() as scratch:  # The loaders read a file.
            path = Path(scratch) / model_name
            path.write_bytes(model_bytes)
            self.classify = model_files.load_classifier(path, threads=1)
        self.folder, self.options, self.debug, self.filesystems = folder, options, debug, {}

    def __call__(self, batch):
        readings = (self.read(os.fsdecode(name), error)
                    for name, error in zip(batch["name"], batch["error"]))
        records = [record for record, _ in
                   recognize.classified(readings, self.classify, self.options)]
        return {"shard": batch["shard"], "position": batch["position"],
                "record": np.array([json.dumps(record) for record in records], object),
                "failed": np.array([record["error"] is not None for record in records])}

    def read(self, name, error):
        """The recognize.Reading of one picture, named as the user named it."""
        if error is not None or not URI.match(name):
            # By its absolute path: a worker's current folder need not be the driver's.
            path = os.path.join(self.folder, name)
            return reading_pool.read_picture(path, error, self.debug, name=name)
        try:
            content = self.fetch(name)
        except FileNotFoundError:
            return reading_pool.read_picture(name, "not found", self.debug)
        except safe_files.Refused as refused:
            return reading_pool.read_picture(name, f"cannot be read ({refused.reason})", self.debug)
        except (OSError, ValueError, pyarrow.ArrowException) as failure:
            reason = f"cannot be read ({common.first_line(failure)})"
            return reading_pool.read_picture(name, reason, self.debug)
        return reading_pool.read_picture(content, None, self.debug, name=name)

    def fetch(self, uri):
        """The bytes of the file at uri, through the pyarrow file system of its scheme and
        bucket (made once per worker: an S3 one looks up its bucket's region)."""
        parts = urllib.parse.urlsplit(uri)
        path = urllib.parse.unquote(parts.path)
        if parts.scheme == "file" and safe_files.kind(path) != "file":
            # Only regular files are opened: a FIFO would block, a device never end.
            found = safe_files.kind(path)
            raise FileNotFoundError(path) if found == "not found" else ValueError(found)
        key = (parts.scheme, parts.netloc)
        if key not in self.filesystems:
            self.filesystems[key], _ = pyarrow.fs.FileSystem.from_uri(
                f"{parts.scheme}://{parts.netloc}/")
        with self.filesystems[key].open_input_stream(
                path if parts.scheme == "file" else parts.netloc + path) as stream:
            return safe_files.read_file(stream, MAX_PICTURE_BYTES, uri)
