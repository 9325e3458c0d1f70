"""Serves the web page, where you draw a digit or send a photo, and the API that answers it.

Reads:  web/index.html and the model, loaded once at start: by default the one predict.py
        answers with (models/digit_cnn.tflite while export.py's record ties it to
        models/digit_cnn.keras, else that .keras file); --model names any other
Writes: nothing. Pictures are read in memory and forgotten; the log (stderr) has one line
        per request.

The API, at http://HOST:PORT:
    GET  /             the page
    GET  /api/health   200 {"status": "ok", "model": PATH, "max_upload_bytes": 20000000}
    POST /api/predict  a multipart form whose field "image" holds a picture file: 200 and
                       the record predict.py --json prints for that file (its "path" is the
                       upload's file name), read by the same code, plus "seen": the 28x28
                       images the answer rests on, as PNG data URLs. A picture with no digit
                       is an answer (200, "no_digit" says why).
A request that cannot be answered gets a JSON object whose "error" says why in one line: 413
over MAX_UPLOAD_BYTES; 415 not a raster picture (text, SVG, PostScript, PDF); 422 empty,
broken or cut short, too many pixels (a decompression bomb), or no field "image"; 400 a body
that is not a valid multipart form, or holds more than one file; 503 not enough memory.
Pictures are read in a pool of processes (as many as cores) and classified in a thread, off
the server's event loop, so requests are served side by side; the model runs one call at a time.

    python serve.py                      # then open http://127.0.0.1:8000
    python serve.py --host 0.0.0.0       # reachable from a phone on the same network (README)
"""

import venv_check  # noqa: F401  Imported first: says how to run the script outside .venv.
import argparse
import asyncio
import base64
import contextlib
import copy
import io
import logging
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

from PIL import Image

import common
import digit_image
import model_files
import reading_pool
import recognize

PAGE = Path(__file__).resolve().parent / "web" / "index.html"
# The largest picture file taken, in bytes: a 50-megapixel phone JPEG is about 15 MB.
MAX_UPLOAD_BYTES = 20_000_000
# A request's body may exceed the picture by the form's framing (boundaries, headers).
MAX_BODY_BYTES = MAX_UPLOAD_BYTES + 64_000
# The status of a picture that could not be read, by the kind of digit_image's error: not a
# picture at all, or no memory left; any other (empty, broken, too many pixels) is 422.
STATUS_OF_ERROR = {digit_image.NotAPicture: 415, digit_image.OutOfMemory: 503}
# The page runs its own inline script and style and loads nothing from elsewhere; the browser
# holds it to that. Pictures it shows are blob: (the user's photo) and data: (what was seen).
PAGE_POLICY = ("default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
               "img-src 'self' blob: data:; connect-src 'self'; form-action 'none'; "
               "frame-ancestors 'none'")
log = logging.getLogger("uvicorn.error")  # The server's log, as uvicorn formats it.


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on: 0.0.0.0 lets other machines of the "
                             "network (a phone) reach the page, and send it pictures")
    parser.add_argument("--port", type=int, default=8000, help="port to listen on (0: any free)")
    common.add_model_flag(parser)
    args = parser.parse_args(argv)
    if not 0 <= args.port <= 65535:
        parser.error("--port must be between 0 and 65535")
    return args


def make_app(classify, model_name):
    """The page and the API, answering with classify(images) -> probabilities."""
    # FastAPI is imported here, not at the top: the reading processes import this script
    # again as their __main__, and would each spend 0.25 s on a web framework they never use.
    from fastapi import FastAPI, Request
    from fastapi.responses import HTMLResponse, JSONResponse
    from starlette.exceptions import HTTPException
    from starlette.requests import ClientDisconnect

    app = FastAPI(title="digit-cnn", docs_url=None, redoc_url=None, openapi_url=None)
    page = PAGE.read_text(encoding="utf-8")
    readers = Readers(reading_pool.cores())
    model_lock = threading.Lock()  # A LiteRT interpreter must not be called from two threads.

    def classified(reading):
        """predict.py's record of a Reading, and the 28x28 images it rests on."""
        with model_lock:
            (record, seen), = recognize.classified(iter([reading]), classify)
        return record, seen

    async def answer(data, name):
        """(status, response) for the bytes of one picture file: predict.py's record."""
        loop = asyncio.get_running_loop()
        try:  # In a reading process: reading is mostly Python, which threads run one at a time.
            reading = await readers.read(data, name)
        except BrokenProcessPool:
            reason = reading_pool.READER_STOPPED
            log.error("%s: %s", name, reason)
            return 503, recognize.answer(recognize.read(data, reason, name), [])
        except Exception as bug:  # noqa: BLE001  Answered, as predict.py answers it, not raised.
            reason = f"could not be read ({type(bug).__name__}: {common.first_line(bug)})"
            log.error("%s: %s", name, reason)
            return 500, recognize.answer(recognize.read(data, reason, name), [])
        record, seen = await loop.run_in_executor(None, classified, reading)
        if record["error"] is None:
            return 200, {**record, "seen": [png_data_url(image) for image in seen]}
        return STATUS_OF_ERROR.get(reading.error_kind, 422), record

    @app.exception_handler(HTTPException)
    async def error_as_json(request, error):
        return JSONResponse({"error": str(error.detail)}, error.status_code)

    @app.exception_handler(Exception)
    async def bug_as_json(request, error):  # The log shows its traceback: a bug to fix.
        return error_response(500, f"internal error ({type(error).__name__})")

    @app.get("/", response_class=HTMLResponse)
    async def index():
        return HTMLResponse(page, headers={"Content-Security-Policy": PAGE_POLICY,
                                           "X-Content-Type-Options": "nosniff"})

    @app.get("/api/health")
    async def health():
        return {"status": "ok", "model": model_name, "max_upload_bytes": MAX_UPLOAD_BYTES}

    @app.post("/api/predict")
    async def predict_upload(request: Request):
        try:
            upload = await uploaded_picture(request)
        except ClientDisconnect:  # Gone before the whole picture came: no one to answer.
            return error_response(400, "the upload was cut off")
        except TooLarge:
            return error_response(413, f"picture file over the limit of {MAX_UPLOAD_BYTES:,} "
                                       "bytes: send a smaller one")
        if isinstance(upload, str):
            return error_response(422, upload)
        status, record = await answer(*upload)
        return JSONResponse(record, status)

    return app


class Readers:
    """A pool of reading processes (reading_pool.py), started at once (each takes 0.3 s) and
    started again when one of them dies. The pictures it was reading are read once more in
    the new pool, as predict.py reads them again; one that stops that pool too fails (503)."""

    def __init__(self, workers):
        self.workers = workers
        self.pool = self.started()

    def started(self):
        pool = reading_pool.start(self.workers)
        for _ in range(self.workers):
            pool.submit(int)  # Each submission before the first answer starts a process.
        return pool

    async def read(self, data, name):
        """The recognize.Reading of a picture file's bytes, read in one of the processes."""
        for last_try in (False, True):
            pool = self.pool
            try:
                future = reading_pool.submit(pool, recognize.read, data, None, name)
                return await asyncio.wrap_future(future)
            except BrokenProcessPool:
                if self.pool is pool:  # The first request to find it broken starts a new one.
                    reading_pool.stop(pool)
                    self.pool = self.started()
                if last_try:
                    raise


class TooLarge(Exception):
    """A request body over MAX_BODY_BYTES, or a picture over MAX_UPLOAD_BYTES."""


async def uploaded_picture(request):
    """(bytes, file name) of the form's field "image", or why there is none (a string).

    The body is refused as soon as it is known to be over the limit: by its Content-Length
    before any of it is read, else while it streams in (chunked), never held whole."""
    from starlette.datastructures import UploadFile
    from starlette.requests import Request

    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise TooLarge
    received = 0

    async def receive_capped():
        nonlocal received
        message = await request.receive()
        received += len(message.get("body", b""))
        if received > MAX_BODY_BYTES:
            raise TooLarge
        return message

    form = await Request(request.scope, receive_capped).form(max_files=1, max_fields=8)
    try:
        upload = form.get("image")
        if upload is None:
            return ('no field "image": send the picture file as the multipart/form-data '
                    'field "image"')
        if not isinstance(upload, UploadFile):
            return 'field "image" holds text, not a file'
        data = await upload.read(MAX_UPLOAD_BYTES + 1)
        if len(data) > MAX_UPLOAD_BYTES:
            raise TooLarge
        return data, upload.filename or "upload"
    finally:
        await form.close()


def error_response(status, message):
    from fastapi.responses import JSONResponse

    return JSONResponse({"error": message}, status)


def png_data_url(image):
    """A 28x28 uint8 image as a data: URL of a PNG, which the page shows as it is."""
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, "PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def listening_socket(host, port):
    """A socket bound to host:port and listening; UserError when it cannot be."""
    try:
        family, kind, protocol, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)[0]
        # A socket of protocol 0 (socket.create_server's) would hand asyncio connections it
        # does not know as TCP, left without TCP_NODELAY: each answer's body would then wait
        # for the client's delayed acknowledgement of its headers, 40 ms.
        sock = socket.socket(family, kind, protocol)
    except OSError as error:  # A name that is no address.
        reason = error.strerror or error
        raise common.UserError(f"cannot listen on {host}:{port}: {reason}") from None
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # A restart binds at once.
        sock.bind(address)
        sock.listen(128)
        return sock
    except OSError as error:  # A busy port, an address not of this machine.
        sock.close()
        raise common.UserError(f"cannot listen on {host}:{port}: {error.strerror}") from None


@contextlib.contextmanager
def spawned(model, log, timeout=120):
    """serve.py with model in a child process on a free loopback port, its log written to the
    file log (a pipe would fill and stop it): yields (process, base URL) once the model is
    loaded and the port takes requests, and stops it as Ctrl-C does. For the screenshot, the
    load benchmark and the tests."""
    with open(log, "w") as log_file:
        process = subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "--port", "0",
                                    "--model", str(model)], stdout=subprocess.DEVNULL,
                                   stderr=log_file)
    try:
        deadline = time.monotonic() + timeout
        while not (serving := re.search(r": serving (http://\S+)/ with", Path(log).read_text())):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"serve.py did not start: {Path(log).read_text()[-2000:]}")
            time.sleep(0.05)
        yield process, serving[1]
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def main(argv=None):
    args = parse_args(argv)
    model = model_files.named_or_default(args)
    model_files.check_model_path(model)
    # The port first: a busy one is said before the seconds a .keras model takes to load.
    # Requests that come meanwhile wait to be accepted.
    sock = listening_socket(args.host, args.port)
    classify = model_files.load_classifier(model)  # Once; a model that cannot answer stops here.
    import uvicorn

    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    print(f"{Path(sys.argv[0]).name}: serving http://{shown}:{port}/ with model {model} "
          "(Ctrl-C stops it)", file=sys.stderr, flush=True)
    # python-multipart also logs a malformed form, which the 400 in the access log says.
    logging.getLogger("python_multipart").setLevel(logging.ERROR)
    log_config = copy.deepcopy(uvicorn.config.LOGGING_CONFIG)
    log_config["handlers"]["access"]["stream"] = "ext://sys.stderr"  # The log, not the output.
    config = uvicorn.Config(make_app(classify, str(model)), log_level="info",
                            log_config=log_config, timeout_graceful_shutdown=5)
    uvicorn.Server(config).run(sockets=[sock])
    return common.EXIT_OK


if __name__ == "__main__":
    sys.exit(common.run_cli(main))
