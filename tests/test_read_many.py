"""read_many.py on a real local Ray (two CPUs): its records are predict.py's, a broken picture
is recorded, a rerun skips the shards done, and bad arguments stop it in one line."""

import contextlib
import http.server
import io
import json
import logging
import os
import shutil
import socket
import threading
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageOps

import common
import model_files
import predict
import read_many
from conftest import run_script

SHARD_SIZE = 64


def draw_pictures(folder, count, seed=0):
    """count PNG drawings of 28 to 112 pixels a side, one to three strokes each, dark on
    white or light on black, every 25th left blank; and one file that is not a picture."""
    folder.mkdir()
    rng = np.random.default_rng(seed)
    for index in range(count):
        size = int(rng.integers(28, 113))
        image = Image.new("L", (size, size), 255)
        pen = ImageDraw.Draw(image)
        for _ in range(int(rng.integers(1, 4)) if index % 25 else 0):
            points = [tuple(rng.uniform(0.2, 0.8, 2) * size) for _ in range(3)]
            pen.line(points, fill=0, width=max(2, size // 12), joint="curve")
        (ImageOps.invert(image) if index % 7 == 0 else image).save(folder / f"{index:03d}.png")
    (folder / "broken.png").write_bytes(b"not a picture\n")
    return folder


def read_many_here(*argv):
    """Runs read_many.py in this process, on the Ray already started: (status, out, err)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = common.run_cli(read_many.main, [str(arg) for arg in argv])
    return status, out.getvalue(), err.getvalue()


def shard_lines(folder):
    return [line for shard in sorted(folder.glob("part-*.jsonl"))
            for line in shard.read_text().splitlines()]


def predicts_lines(inputs, model):
    """What `predict.py --json INPUTS --model MODEL` prints, a line per picture."""
    args = predict.parse_args([*map(str, inputs), "--model", str(model)])
    classify = model_files.load_classifier(model)
    return [json.dumps(record) for record, _ in predict.answer(args.inputs, classify, args)]


@pytest.fixture(scope="module")
def tiny_litert(tiny_model, tmp_path_factory):
    """conftest's tiny model as a float LiteRT file, converted as export.py converts the real
    one: the kind of model the workers load by default."""
    import export

    folder = tmp_path_factory.mktemp("litert")
    model_files.load_keras_model(tiny_model).export(folder / "saved", format="tf_saved_model",
                                                verbose=False)
    (folder / "tiny.tflite").write_bytes(export.convert_to_litert(folder / "saved"))
    return folder / "tiny.tflite"


@pytest.fixture(scope="module")
def local_ray():
    """One Ray on two CPUs for the whole file, started as read_many.py starts it; each job
    then starts only its workers. Gives its address, which another process may join."""
    import ray

    ray.init(num_cpus=2, include_dashboard=False, logging_level=logging.ERROR,
             log_to_driver=False)
    yield ray.get_runtime_context().gcs_address
    ray.shutdown()


@pytest.fixture(scope="module")
def pictures(tmp_path_factory):
    return draw_pictures(tmp_path_factory.mktemp("many") / "pictures", 300)


@pytest.fixture(scope="module")
def first_run(local_ray, pictures, tiny_litert, tmp_path_factory):
    output = tmp_path_factory.mktemp("answers") / "answers"
    status, out, err = read_many_here(pictures, "--output", output, "--model", tiny_litert,
                                      "--shard-size", SHARD_SIZE, "--batch-size", 50)
    summary = json.loads((output / "summary.json").read_text())
    return SimpleNamespace(output=output, status=status, out=out, err=err, summary=summary)


def test_the_records_are_predicts_and_a_broken_picture_is_one_of_them(first_run, pictures,
                                                                      tiny_litert):
    assert shard_lines(first_run.output) == predicts_lines([pictures], tiny_litert)
    broken = json.loads(shard_lines(first_run.output)[-1])
    assert broken["path"] == str(pictures / "broken.png")
    assert broken["error"] == "not an image file (Pillow cannot identify it)"
    assert first_run.status == common.EXIT_SOME_FAILED
    (said,) = first_run.err.splitlines()  # As predict.py says it, after the script's name.
    assert said.endswith(f".py: {broken['path']}: {broken['error']}")
    assert len(list(first_run.output.glob("part-*.jsonl"))) == 5  # 301 pictures, 64 a shard
    assert {key: first_run.summary[key] for key in ("pictures", "read", "failures", "shards",
                                                    "shards_skipped", "workers")} == {
        "pictures": 301, "read": 301, "failures": 1, "shards": 5, "shards_skipped": 0,
        "workers": 2}
    assert first_run.summary["pictures_per_second"] > 0
    assert "301 pictures in 5 shards (0 done before), 1 failed" in first_run.out


def test_a_rerun_reads_only_the_shards_not_written(first_run, tiny_litert, pictures,
                                                   tmp_path):
    output = tmp_path / "answers"
    shutil.copytree(first_run.output, output)
    shards = sorted(output.glob("part-*.jsonl"))
    lost = shards[2].read_text()
    shards[2].unlink()  # As if the job had been stopped before writing it.
    before = {shard.name: (os.stat(shard).st_ino, os.stat(shard).st_mtime_ns)
              for shard in shards if shard.exists()}

    status, out, _ = read_many_here(pictures, "--output", output, "--model", tiny_litert,
                                    "--shard-size", SHARD_SIZE, "--batch-size", 50)
    after = {shard.name: (os.stat(shard).st_ino, os.stat(shard).st_mtime_ns)
             for shard in shards if shard.name in before}
    assert after == before  # Not written again.
    assert shards[2].read_text() == lost
    summary = json.loads((output / "summary.json").read_text())
    assert (summary["shards_skipped"], summary["read"], summary["pictures"],
            summary["failures"]) == (4, SHARD_SIZE, 301, 1)
    assert status == common.EXIT_SOME_FAILED  # The broken picture of a shard done before.
    assert "(4 done before)" in out

    status, out, _ = read_many_here(pictures, "--output", output, "--model", tiny_litert,
                                    "--shard-size", SHARD_SIZE)
    assert "(5 done before), 1 failed; nothing to read" in out


def test_list_files_name_paths_patterns_and_uris(local_ray, pictures, tiny_litert,
                                                 tmp_path):
    listed = tmp_path / "list.txt"
    os.mkfifo(tmp_path / "fifo.png")  # Would block a reader that opened it.
    listed.write_text(f"{(pictures / '000.png').as_uri()}\n\n{pictures}/00[1-3].png\n"
                      f"{(pictures / 'gone.png').as_uri()}\n{(tmp_path / 'fifo.png').as_uri()}\n")
    status, _, err = read_many_here(listed, "--output", tmp_path / "answers", "--model",
                                    tiny_litert)
    records = [json.loads(line) for line in shard_lines(tmp_path / "answers")]
    expected = [json.loads(line) for line in
                predicts_lines([pictures / f"00{index}.png" for index in range(4)], tiny_litert)]
    expected[0]["path"] = (pictures / "000.png").as_uri()  # Read from its bytes, as from S3.
    assert records[:4] == expected
    assert records[4]["path"] == (pictures / "gone.png").as_uri()
    assert records[4]["error"] == "not found"
    assert records[5]["error"] == "cannot be read (is a FIFO (named pipe), not a file)"
    assert status == common.EXIT_SOME_FAILED
    assert err.splitlines()[0].endswith("gone.png: not found")


def test_bad_arguments_stop_before_any_work_in_one_line(pictures, tiny_litert, tmp_path,
                                                        capsys):
    (tmp_path / "empty").mkdir()
    (tmp_path / "a_file").write_text("not a folder\n")
    (tmp_path / "bad.tflite").write_text("not a model\n")
    other_job = tmp_path / "other_job"
    other_job.mkdir()
    (other_job / "part-00000-0123456789ab.jsonl").write_text("{}\n")
    for inputs, output, model, message in [
        ([tmp_path / "missing"], tmp_path / "out", tiny_litert, "missing: not found"),
        ([tmp_path / "*.heic"], tmp_path / "out", tiny_litert, "no files match this pattern"),
        ([tmp_path / "empty"], tmp_path / "out", tiny_litert, "empty: folder holds no pictures"),
        ([pictures], tmp_path / "a_file", tiny_litert, "it is a file, not a folder"),
        ([pictures], other_job, tiny_litert, "holds 1 shards of another job"),
        ([pictures], tmp_path / "out", tmp_path / "bad.tflite", "not a usable LiteRT model"),
    ]:
        status = common.run_cli(read_many.main, [*map(str, inputs), "--output", str(output),
                                                 "--model", str(model)])
        err = capsys.readouterr().err
        assert status == common.EXIT_USAGE
        assert message in err and err.count("\n") == 1, err
    # A batch past a C long stopped pyarrow with a traceback, and Ray's start a name that is
    # not UTF-8; --workers 0 was all cores.
    not_utf8 = os.fsdecode(bytes(pictures / "lat") + b"\xe9.png")
    for inputs, flags, message in [
            ([pictures], ["--batch-size", "99999999999999999999"], "at most 65,536"),
            ([pictures], ["--workers", "0"], "must be at least 1"),
            ([not_utf8], [], "a name that is not UTF-8 cannot be given to Ray")]:
        with pytest.raises(SystemExit) as stop:
            read_many.main([*map(str, inputs), "--output", str(tmp_path / "out"), *flags])
        assert stop.value.code == common.EXIT_USAGE and message in capsys.readouterr().err
    assert (other_job / "part-00000-0123456789ab.jsonl").read_text() == "{}\n"
    assert not (other_job / "summary.json").exists()


def test_an_empty_folder_named_with_a_slash_stops_before_any_work(tiny_litert, tmp_path,
                                                                   capsys):
    (tmp_path / "empty").mkdir()
    status = common.run_cli(read_many.main, [f"{tmp_path / 'empty'}/", "--output",
                                             str(tmp_path / "out"), "--model", str(tiny_litert)])
    err = capsys.readouterr().err
    assert status == common.EXIT_USAGE
    assert f"{tmp_path / 'empty'}/: folder holds no pictures" in err and err.count("\n") == 1, err


def test_the_command_starts_its_own_ray_quietly_or_joins_one(first_run, local_ray, pictures,
                                                             tiny_litert, tmp_path):
    # The first ten pictures, as the first run named them: the same lines.
    first_ten = [str(pictures / "00[0-9].png"), "--model", tiny_litert]
    own = run_script("read_many.py", *first_ten, "--output", tmp_path / "own", cwd=tmp_path)
    joined = run_script("read_many.py", *first_ten, "--output", tmp_path / "joined",
                        "--address", local_ray, "--progress", cwd=tmp_path)
    for result, folder in ((own, tmp_path / "own"), (joined, tmp_path / "joined")):
        assert result.returncode == common.EXIT_OK, result.stderr
        assert shard_lines(folder) == shard_lines(first_run.output)[:10]
    # Ray's progress (logged, off a terminal) only when asked; Ray still writes one warning
    # of its own when the workers start.
    assert "INFO" not in own.stderr and "Total Progress" in joined.stderr
    assert json.loads((tmp_path / "joined" / "summary.json").read_text())["address"] == local_ray


def test_an_address_where_no_ray_answers_is_said_at_once(pictures, tiny_litert, tmp_path):
    with socket.socket() as free:  # A port nothing listens on.
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    result = run_script("read_many.py", pictures, "--output", tmp_path / "out", "--model",
                        tiny_litert, "--address", f"127.0.0.1:{port}", cwd=tmp_path)
    assert result.returncode == common.EXIT_USAGE
    assert result.stderr == (f"read_many.py: error: --address 127.0.0.1:{port}: no Ray cluster "
                             "answers there (Connection refused)\n")
    assert not list((tmp_path / "out").glob("part-*"))


def test_a_web_server_at_the_address_is_no_ray_cluster(pictures, tiny_litert, tmp_path):
    """Ray itself retried such an address for ever, a warning every half minute."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.SimpleHTTPRequestHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        address = f"127.0.0.1:{server.server_address[1]}"
        result = run_script("read_many.py", pictures, "--output", tmp_path / "out", "--model",
                            tiny_litert, "--address", address, cwd=tmp_path)
    finally:
        server.shutdown()
        server.server_close()
    assert result.returncode == common.EXIT_USAGE
    assert result.stderr == (f"read_many.py: error: --address {address}: something answers "
                             "there, but not a Ray cluster (it does not speak gRPC)\n")
