"""serve.py's API against the real app and a real tiny model: the answer to an upload is
predict.py's record, bad uploads get a 4xx and a one-line JSON error, the size limit holds
while the body streams in, requests are served side by side, and the script itself."""

import asyncio
import base64
import io
import itertools
import json
import re
import socket
import struct
import sys
import threading
import zlib
from concurrent.futures import ThreadPoolExecutor

import httpx
import numpy as np
import pytest
from conftest import ROOT, fit_bars, run_noting_imports, served
from fastapi.testclient import TestClient
from PIL import Image, ImageDraw
from test_predict import draw

import common
import model_files
import predict
import recognize
import serve


@pytest.fixture(scope="module")
def classify(tiny_model):
    return model_files.load_classifier(tiny_model)


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
        crc = struct.pack(">I", zlib.crc32(kind + data))
        return struct.pack(">I", len(data)) + kind + data + crc

    row = b"\0" + b"\xff" * ((side + 7) // 8)  # Filter type 0, then the row's bits.
    squeeze = zlib.compressobj(9)
    data = b"".join(squeeze.compress(row * 1000) for _ in range(side // 1000)) + squeeze.flush()
    header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data)
            + chunk(b"IEND", b""))


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
    the server still answers (reading and the model run off the event loop)."""
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


def test_a_reading_process_that_dies_fails_one_request_and_the_server_goes_on(classify,
                                                                              tmp_path):
    import multiprocessing
    import os
    import signal

    picture = draw(tmp_path / "seven.png").read_bytes()
    with TestClient(serve.make_app(classify, "tiny")) as client:
        assert post(client, "before.png", picture).status_code == 200
        readers = [child for child in multiprocessing.active_children()
                   if "SpawnProcess" in child.name]
        assert readers
        os.kill(readers[0].pid, signal.SIGKILL)  # as the out-of-memory killer would
        readers[0].join(10)
        first = post(client, "during.png", picture)
        assert first.status_code in (200, 503)
        if first.status_code == 503:
            assert "reading process stopped" in first.json()["error"]
        after = post(client, "after.png", picture)
        assert after.status_code == 200 and after.json()["path"] == "after.png"


def test_a_picture_whose_reading_processes_all_died_is_read_in_new_ones(classify, tmp_path):
    import contextlib
    import multiprocessing
    import os
    import signal

    picture = draw(tmp_path / "seven.png").read_bytes()
    with TestClient(serve.make_app(classify, "tiny")) as client:
        assert post(client, "before.png", picture).status_code == 200
        for reader in [child for child in multiprocessing.active_children()
                       if "SpawnProcess" in child.name]:
            with contextlib.suppress(ProcessLookupError):  # the pool may have ended it
                os.kill(reader.pid, signal.SIGKILL)
            reader.join(10)
        again = post(client, "again.png", picture)
        assert again.status_code == 200 and again.json()["path"] == "again.png"


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
    log = tmp_path / "server.log"
    with serve.spawned(tiny_model, log) as (process, url):
        assert httpx.get(f"{url}/api/health", timeout=60).json()["model"] == str(tiny_model)
        statuses = [httpx.post(f"{url}/api/predict", files={"image": upload}, timeout=60)
                    .status_code for upload in [("notes.txt", b"text"), ("empty.png", b""),
                                   ("seven.png", draw(tmp_path / "seven.png").read_bytes())]]
        assert statuses == [415, 422, 200]
    text = log.read_text()
    assert process.returncode == 130 and text.startswith("serve.py: serving http://127.0.0.1:")
    assert "Traceback" not in text and text.rstrip().endswith("serve.py: interrupted")
    requests = [line for line in text.splitlines() if '"POST /api/predict' in line]
    assert [line.split('" ')[1].split()[0] for line in requests] == ["415", "422", "200"]


def test_connections_are_sent_without_delay(tmp_path):
    """The listening socket is one asyncio knows as TCP, so that it sets TCP_NODELAY on each
    connection: else an answer's body waits 40 ms for the acknowledgement of its headers."""
    async def nodelay_of_a_connection():
        sock = serve.listening_socket("127.0.0.1", 0)
        accepted = asyncio.get_running_loop().create_future()

        class Protocol(asyncio.Protocol):
            def connection_made(self, transport):
                accepted.set_result(transport.get_extra_info("socket").getsockopt(
                    socket.IPPROTO_TCP, socket.TCP_NODELAY))
                transport.close()

        server = await asyncio.get_running_loop().create_server(Protocol, sock=sock)
        async with server:
            _, writer = await asyncio.open_connection(*sock.getsockname()[:2])
            nodelay = await asyncio.wait_for(accepted, 10)
            writer.close()
        return nodelay

    assert asyncio.run(nodelay_of_a_connection()) == 1


# --- The page in a real browser -----------------------------------------------------------

sys.path.insert(0, str(ROOT / "web"))
import screenshot  # noqa: E402  (web/ is no package)


class Counted:
    """An ASGI app that counts the pictures posted to it."""

    def __init__(self, app):
        self.app, self.posts = app, 0

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and scope["path"] == "/api/predict":
            self.posts += 1
        await self.app(scope, receive, send)


@pytest.fixture(scope="module")
def page_server(tmp_path_factory):
    """(URL, Counted app, TestClient of the same model) of the page and its API, for the
    browser: the client tells what the page should show for a picture. The model is a tiny
    one sure of a bar, so that the page shows digits and numbers, where tiny_model's answers
    are all "no digit"."""
    reason = screenshot.missing()
    if reason:
        pytest.skip(reason)
    model = fit_bars(tmp_path_factory.mktemp("sure") / "sure.keras", epochs=30, seed=0)
    classify = model_files.load_classifier(model)
    app = Counted(serve.make_app(classify, str(model)))
    with served(app) as url, TestClient(serve.make_app(classify, str(model))) as client:
        yield url, app, client


def shown(record):
    """The text of #answer for an API answer, as the page writes it: the answer, then why."""
    def percent(probability):
        return f"{100 * probability:.1f}%"

    if record.get("error"):
        return f"Could not read the picture\n{record['error']}"
    if record["no_digit"]:
        return f"No digit found\n{record['no_digit']}"
    if record["number"] is not None:
        uncertain = " (uncertain: some digits are below the threshold)" * record["uncertain"]
        return f"{record['number']}\nleast sure digit: {percent(record['confidence'])}{uncertain}"
    return f"{record['digit']}\n{percent(record['confidence'])} sure"


def pad_png(driver):
    """The pad's picture as the page sends it."""
    url = driver.execute_script("return document.getElementById('pad').toDataURL('image/png')")
    return base64.b64decode(url.split(",", 1)[1])


def answered(driver, app, posts, record):
    """Waits until the page has posted posts pictures in all and shows record's answer, with
    nothing on its way; returns #answer's text."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    def done(driver):
        text = driver.find_element(By.ID, "answer").text
        idle = driver.find_element(By.ID, "status").text == ""
        return text if app.posts == posts and idle and text == shown(record) else False

    return WebDriverWait(driver, 20).until(done)


# Strokes on the pad, as shares of its side: a dash, and two of them side by side.
DASH = [[(0.3, 0.5), (0.7, 0.5)]]
TWO_DASHES = [[(0.1, 0.5), (0.4, 0.5)], [(0.6, 0.5), (0.9, 0.5)]]


def test_the_page_answers_a_drawing_clears_and_answers_a_photo(page_server, tmp_path):
    from selenium.webdriver.common.by import By

    url, app, client = page_server
    posts = app.posts
    with screenshot.chromium() as driver:
        driver.get(url + "/")
        answer = driver.find_element(By.ID, "answer")
        assert answer.text == ""
        screenshot.draw(driver, DASH)
        drawing = pad_png(driver)
        ink = np.asarray(Image.open(io.BytesIO(drawing)).convert("L")) < 128
        assert 0.01 < ink.mean() < 0.1  # A marker's stroke, not a hairline.
        record = post(client, "drawing.png", drawing).json()  # What the page is answered.
        assert record["digit"] is not None
        text = answered(driver, app, posts + 1, record)  # One post for one stroke.
        print(f"drawn dash answered: {text!r}")
        seen = driver.find_elements(By.CSS_SELECTOR, "#seen img")
        assert len(seen) == len(record["seen"]) == 1 and seen[0].is_displayed()
        assert len(driver.find_elements(By.CSS_SELECTOR, "#bars .bar")) == 10

        driver.find_element(By.ID, "clear").click()
        assert answer.text == "" and not driver.find_element(By.ID, "bars").text
        assert not (np.asarray(Image.open(io.BytesIO(pad_png(driver))).convert("L")) < 128).any()

        photo = tmp_path / "photo.jpg"  # Two dashes in pen on paper.
        paper = Image.new("RGB", (600, 300), (235, 230, 220))
        for left in (60, 340):
            ImageDraw.Draw(paper).line([(left, 150), (left + 200, 150)], (30, 30, 60), 18)
        paper.save(photo, quality=85)
        record = post(client, "photo.jpg", photo.read_bytes()).json()
        assert record["number"] is not None
        driver.find_element(By.ID, "upload").send_keys(str(photo))
        print(f"uploaded photo answered: {answered(driver, app, posts + 2, record)!r}")
        assert driver.find_element(By.ID, "picture").is_displayed()
        assert len(driver.find_elements(By.CSS_SELECTOR, "#seen img")) == 2
        assert len(driver.find_elements(By.CSS_SELECTOR, "#bars .bar")) == 20

        # A file dropped on the page is answered the same way.
        dropped = draw(tmp_path / "2024.png", "2024", size=(400, 160)).read_bytes()
        record = post(client, "2024.png", dropped).json()
        driver.execute_script(DROP, base64.b64encode(dropped).decode(), "2024.png")
        print(f"dropped 2024.png answered: {answered(driver, app, posts + 3, record)!r}")


# Drops a file (base64, name) on the page as a user drags one from their desktop.
DROP = """
const bytes = Uint8Array.from(atob(arguments[0]), (c) => c.charCodeAt(0));
const transfer = new DataTransfer();
transfer.items.add(new File([bytes], arguments[1], {type: "image/png"}));
document.dispatchEvent(new DragEvent("drop", {dataTransfer: transfer, bubbles: true,
                                              cancelable: true}));
"""


def test_on_a_phone_a_finger_draws_without_scrolling_and_undo_answers_again(page_server):
    from selenium.webdriver.common.by import By

    url, app, client = page_server
    with screenshot.chromium(phone=True) as driver:
        driver.get(url + "/")
        width = driver.execute_script("return [document.documentElement.scrollWidth, innerWidth]")
        assert width[0] <= width[1]  # The page fits the phone's width.
        assert driver.find_element(By.ID, "pad").size["width"] > 0.8 * width[1]
        posts = app.posts
        # The second stroke goes from right to left and upwards: a finger moving so on a page
        # that let it would scroll it.
        screenshot.draw(driver, [DASH[0], [(0.8, 0.7), (0.5, 0.3)]], "touch")
        assert driver.execute_script("return scrollY") == 0
        record = post(client, "drawing.png", pad_png(driver)).json()
        # Two strokes in quick succession: one answer, after the second.
        print(f"drawn dashes answered: {answered(driver, app, posts + 1, record)!r}")
        driver.find_element(By.ID, "undo").click()  # The second dash goes.
        record = post(client, "drawing.png", pad_png(driver)).json()
        assert record["digit"] is not None
        print(f"after undo: {answered(driver, app, posts + 2, record)!r}")
