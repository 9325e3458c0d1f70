"""serve.py's API against the real app and a real tiny model: the answer to an upload is
predict.py's record, bad uploads get a 4xx and a one-line JSON error, the size limit holds
while the body streams in, requests are served side by side, and the script itself."""

import asyncio
import base64
import io
import itertools
import json
import re
import signal
import socket
import struct
import subprocess
import sys
import threading
import zlib
from concurrent.futures import ThreadPoolExecutor

import httpx
import numpy as np
import pytest
from conftest import ROOT, run_noting_imports, served
from fastapi.testclient import TestClient
from PIL import Image
from test_predict import draw

import common
import predict
import recognize
import serve


@pytest.fixture(scope="module")
def classify(tiny_model):
    return common.load_classifier(tiny_model)


@pytest.fixture(scope="module")
def client(classify, tiny_model):
    with TestClient(serve.make_app(classify, str(tiny_model))) as client:
        yield client


def post(client, name, data, field="image"):
    return client.post("/api/predict", files={field: (name, data)})


def predict_json(path, model, capsys):
    """What `predict.py PATH --json --model MODEL` prints, as a dict."""
    capsys.readouterr()
    status = common.run_cli(predict.main, [str(path), "--json", "--model", str(model)])
    line, = capsys.readouterr().out.splitlines()
    assert status in (common.EXIT_OK, common.EXIT_SOME_FAILED)
    return json.loads(line)


def png_bomb(side):
    """A valid 1-bit PNG of side x side white pixels (side a multiple of 1,000): tens of KB
    that would decode to side**2 pixels, over Pillow's limit for side > 9,459."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    row = b"\0" + b"\xff" * ((side + 7) // 8)  # Filter type 0, then the row's bits.
    squeeze = zlib.compressobj(9)
    data = b"".join(squeeze.compress(row * 1000) for _ in range(side // 1000)) + squeeze.flush()
    header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b"")


def test_health_and_page(client, tiny_model):
    assert client.get("/api/health").json() == {
        "status": "ok", "model": str(tiny_model), "max_upload_bytes": serve.MAX_UPLOAD_BYTES}
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    for element in ('<canvas id="pad"', 'id="answer"', 'id="clear"', 'id="undo"', 'id="upload"',
                    'accept="image/*"', 'name="viewport"'):
        assert element in page.text
    # Works offline: nothing is fetched from elsewhere, and the browser is told to hold it to that.
    assert not re.search(r"https?:|['\"(]//", page.text)
    assert "default-src 'self'" in page.headers["content-security-policy"]
    # No API documentation pages: FastAPI's would load their scripts from a CDN.
    assert client.get("/docs").status_code == 404 and client.get("/openapi.json").status_code == 404


@pytest.mark.parametrize("picture", ["seven.png", "2024.png", "transparent.png", "blank.png",
                                     "photo.jpg"])
def test_an_upload_is_answered_with_predict_py_s_record(picture, client, tiny_model, tmp_path,
                                                         capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)  # predict.py's "path" is the name it is given: the file's.
    path = tmp_path / picture
    if picture == "seven.png":
        draw(path)
    elif picture == "2024.png":
        draw(path, "2024", size=(400, 160))
    elif picture == "transparent.png":  # The pad may send strokes on a transparent canvas.
        ink = np.asarray(Image.open(draw(tmp_path / "ink.png", "4")).convert("L"))
        Image.fromarray(np.dstack([np.zeros((*ink.shape, 3), np.uint8), 255 - ink])).save(path)
    elif picture == "blank.png":
        Image.new("RGB", (300, 300), "white").save(path)
    else:
        Image.open(draw(tmp_path / "ink.png", "7")).save(path, quality=80)
    response = post(client, picture, path.read_bytes())
    assert response.status_code == 200
    answered = response.json()
    seen = answered.pop("seen")
    assert answered == predict_json(picture, tiny_model, capsys)  # The same keys and values.
    # "seen" holds the 28x28 images the answer rests on, as predict.py --show draws them.
    reading = recognize.read(path.read_bytes(), name=picture)
    expected = recognize.seen(reading, answered)
    assert len(seen) == len(expected) == (0 if picture == "blank.png" else
                                          4 if answered["number"] else 1)
    for url, image in zip(seen, expected):
        assert url.startswith("data:image/png;base64,")
        shown = np.asarray(Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))))
        assert np.array_equal(shown, image)


BAD_UPLOADS = {
    # name: (bytes, status, what the error says)
    "notes.txt": (b"a shopping list\n", 415, "not an image file"),
    "drawing.png": (b"%!PS-Adobe-3.0\n/Times findfont\nshowpage\n", 415, "PostScript"),
    "drawing.svg": (b'<svg xmlns="http://www.w3.org/2000/svg"/>', 415, "SVG"),
    "empty.png": (b"", 422, "empty file"),
    "cut_short.png": (None, 422, "broken image file"),
    "bomb.png": (None, 422, "decompression bomb"),
}


@pytest.fixture(scope="module")
def bad_uploads(tmp_path_factory):
    uploads = dict(BAD_UPLOADS)
    whole = draw(tmp_path_factory.mktemp("bad") / "seven.png").read_bytes()
    uploads["cut_short.png"] = (whole[: len(whole) // 2], *BAD_UPLOADS["cut_short.png"][1:])
    uploads["bomb.png"] = (png_bomb(20_000), *BAD_UPLOADS["bomb.png"][1:])
    return uploads


@pytest.mark.parametrize("name", BAD_UPLOADS)
def test_a_bad_upload_gets_a_4xx_and_one_line_and_the_server_goes_on(name, client, bad_uploads,
                                                                      tmp_path):
    data, status, says = bad_uploads[name]
    response = post(client, name, data)
    assert response.status_code == status
    record = response.json()
    assert says in record["error"] and "\n" not in record["error"]
    assert record["path"] == name and record["digit"] is None and "seen" not in record
    assert client.get("/api/health").status_code == 200
    assert post(client, "seven.png", draw(tmp_path / "seven.png").read_bytes()).status_code == 200


def test_requests_without_a_picture_get_a_json_error(client):
    cases = [
        (dict(files={"picture": ("seven.png", b"x")}), 422, 'no field "image"'),
        (dict(data={"image": "not a file"}), 422, 'field "image" holds text'),
        (dict(json={"image": "seven.png"}), 422, 'no field "image"'),
        (dict(content=b"garbage", headers={"content-type": "multipart/form-data; boundary=xx"}),
         400, "Invalid multipart data"),
        (dict(files=[("image", ("a.png", b"x")), ("image", ("b.png", b"y"))]), 400,
         "Too many files"),
    ]
    for request, status, says in cases:
        response = client.post("/api/predict", **request)
        assert response.status_code == status and says in response.json()["error"], request
    assert client.get("/nowhere").json() == {"error": "Not Found"}
    assert client.get("/api/predict").status_code == 405


def asgi_post(app, headers, chunks):
    """POST /api/predict straight through ASGI with the body's chunks drawn from an iterator
    as the app asks for them: (status, JSON answer, how many chunks the app took)."""
    taken, sent = 0, []

    async def receive():
        nonlocal taken
        chunk = next(chunks, None)
        if chunk is None:
            return {"type": "http.request", "body": b"", "more_body": False}
        taken += 1
        return {"type": "http.request", "body": chunk, "more_body": True}

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
             "scheme": "http", "path": "/api/predict", "raw_path": b"/api/predict",
             "query_string": b"", "root_path": "", "client": ("127.0.0.1", 1),
             "server": ("127.0.0.1", 80), "headers": headers}
    asyncio.run(app(scope, receive, send))
    start = next(message for message in sent if message["type"] == "http.response.start")
    body = b"".join(message.get("body", b"") for message in sent
                    if message["type"] == "http.response.body")
    return start["status"], json.loads(body), taken


def test_over_20_mb_is_413_without_the_body_being_held(classify):
    """A body over the limit is refused by its Content-Length before any of it is read, or,
    sent without one (chunked), as soon as the limit is passed: never held whole."""
    app = serve.make_app(classify, "tiny")
    boundary = b"limit"
    form_start = (b"--" + boundary + b'\r\nContent-Disposition: form-data; name="image"; '
                  b'filename="huge.png"\r\nContent-Type: image/png\r\n\r\n')
    content_type = (b"content-type", b"multipart/form-data; boundary=" + boundary)
    megabyte = b"\0" * 1_000_000

    def endless():  # 1 GB if it were all read.
        return itertools.chain([form_start], itertools.repeat(megabyte, 1000))

    status, answer, taken = asgi_post(app, [content_type, (b"content-length", b"1000000200")],
                                      endless())
    assert status == 413 and "over the limit of 20,000,000 bytes" in answer["error"]
    assert taken == 0
    status, answer, taken = asgi_post(app, [content_type], endless())
    assert status == 413 and "over the limit" in answer["error"]
    assert taken <= 1 + serve.MAX_BODY_BYTES // len(megabyte) + 1


def test_the_limit_is_the_picture_s_size(client):
    over = b"\0" * (serve.MAX_UPLOAD_BYTES + 1)
    assert post(client, "over.png", over).status_code == 413
    # At the limit the picture is read: these bytes are no picture.
    response = post(client, "at.png", over[:-1])
    assert response.status_code == 415 and "not an image" in response.json()["error"]


def test_requests_are_served_side_by_side_off_the_event_loop(classify, tmp_path):
    """Eight pictures at once are all answered; while the model is busy with one of them,
    the server still answers (reading and the model run in threads, not on the loop)."""
    picture = draw(tmp_path / "seven.png").read_bytes()
    model_busy, go_on = threading.Event(), threading.Event()

    def slow_classify(images):
        model_busy.set()
        go_on.wait(30)
        return classify(images)

    with served(serve.make_app(slow_classify, "tiny")) as url, ThreadPoolExecutor(8) as pool:
        answers = [pool.submit(httpx.post, f"{url}/api/predict", timeout=60,
                               files={"image": (f"seven{i}.png", picture)}) for i in range(8)]
        assert model_busy.wait(30)
        health = httpx.get(f"{url}/api/health", timeout=5)
        assert health.status_code == 200
        go_on.set()
        responses = [answer.result() for answer in answers]
    assert [response.status_code for response in responses] == [200] * 8
    records = [response.json() for response in responses]
    assert [record.pop("path") for record in records] == [f"seven{i}.png" for i in range(8)]
    assert all(record == records[0] for record in records)


def test_help_bad_model_and_busy_port_say_one_line_without_tensorflow(tmp_path, tiny_model):
    result, imported = run_noting_imports("serve.py", "--help", cwd=tmp_path)
    assert result.returncode == 0 and result.stdout.startswith("usage: ") and imported == set()
    (tmp_path / "model.txt").write_text("weights")
    (tmp_path / "broken.tflite").write_bytes(b"\0" * 100)
    for args, says in [(["--model", tmp_path / "missing.keras"], "not found"),
                       (["--model", tmp_path / "model.txt"], "unknown format"),
                       (["--model", tmp_path / "broken.tflite"], "not a usable LiteRT model")]:
        result, imported = run_noting_imports("serve.py", *args, cwd=tmp_path)
        assert result.returncode == common.EXIT_USAGE and imported == set()
        assert len(result.stderr.splitlines()) == 1 and says in result.stderr
    result, imported = run_noting_imports("serve.py", "--port", "70000", cwd=tmp_path)
    assert result.returncode == common.EXIT_USAGE and imported == set()
    assert result.stderr.splitlines()[-1] == "serve.py: error: --port must be between 0 and 65535"
    with socket.create_server(("127.0.0.1", 0)) as busy:
        port = busy.getsockname()[1]
        result, imported = run_noting_imports("serve.py", "--port", port, "--model", tiny_model,
                                              cwd=tmp_path)
    assert result.returncode == common.EXIT_USAGE and imported == set()
    assert result.stderr.strip() == (f"serve.py: error: cannot listen on 127.0.0.1:{port}: "
                                     "Address already in use")


def test_serve_py_serves_until_interrupted_with_one_log_line_a_request(tmp_path, tiny_model):
    process = subprocess.Popen([sys.executable, str(ROOT / "serve.py"), "--port", "0",
                                "--model", str(tiny_model)], cwd=tmp_path, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        first = process.stderr.readline()
        assert first.startswith("serve.py: serving http://127.0.0.1:"), first
        url = first.split()[2].rstrip("/")
        assert httpx.get(f"{url}/api/health", timeout=60).json()["model"] == str(tiny_model)
        statuses = [httpx.post(f"{url}/api/predict", timeout=60, files={"image": upload}).status_code
                    for upload in [("notes.txt", b"text"), ("empty.png", b""),
                                   ("seven.png", draw(tmp_path / "seven.png").read_bytes())]]
        assert statuses == [415, 422, 200]
    finally:
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 130 and stdout == ""
    assert "Traceback" not in stderr and stderr.rstrip().endswith("serve.py: interrupted")
    requests = [line for line in stderr.splitlines() if '"POST /api/predict' in line]
    assert [line.split('" ')[1].split()[0] for line in requests] == ["415", "422", "200"]
