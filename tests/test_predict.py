"""predict.py: inputs, outputs, failures and exit statuses, with a real tiny trained model."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

import common
import predict
import reading_pool

ROOT = Path(__file__).resolve().parent.parent


def draw(path, text="7", size=(200, 200)):
    """Writes a picture of text's digits in dark pen on white paper; returns its path."""
    image = Image.new("RGB", size, "white")
    pen = ImageDraw.Draw(image)
    step = (size[0] - 40) / len(text)
    for i, digit in enumerate(text):
        left, right, top, bottom = 20 + i * step + 10, 20 + (i + 1) * step - 10, 40, size[1] - 40
        if digit == "0":
            pen.ellipse((left, top, right, bottom), outline="black", width=8)
        elif digit == "2":
            points = [(0, 0.25), (0.3, 0), (0.8, 0.05), (0.9, 0.3), (0, 1), (1, 1)]
            pen.line(
                [(left + x * (right - left), top + y * (bottom - top)) for x, y in points],
                fill="black",
                width=8,
                joint="curve",
            )
        elif digit == "4":
            points = [(0.7, 1), (0.7, 0), (0, 0.65), (1, 0.65)]
            pen.line(
                [(left + x * (right - left), top + y * (bottom - top)) for x, y in points],
                fill="black",
                width=8,
                joint="curve",
            )
        else:
            pen.line(
                [(left, top), (right, top), (left + 0.4 * (right - left), bottom)],
                fill="black",
                width=8,
                joint="curve",
            )
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path)
    return path


def run(argv, model, capsys):
    """Runs predict.py in this process; returns (exit status, stdout lines, stderr lines).
    The tiny model is unsure of every picture: it is asked for its answers all the same
    (--min-confidence 0) unless argv says otherwise."""
    status = common.run_cli(predict.main, ["--min-confidence", "0", *map(str, argv),
                                           "--model", str(model)])
    captured = capsys.readouterr()
    return status, captured.out.splitlines(), captured.err.splitlines()


def test_table_lists_each_picture_with_digit_confidence_and_runner_up(tmp_path, tiny_model, capsys):
    first, second = draw(tmp_path / "a.png"), draw(tmp_path / "b.jpg")
    status, out, err = run([first, second], tiny_model, capsys)
    assert status == common.EXIT_OK and err == []
    assert out[0].split() == ["answer", "confidence", "runner-up", "path"]
    assert str(first) in out[1] and str(second) in out[2]
    assert "%" in out[1]


def test_json_schema_and_top_k(tmp_path, tiny_model, capsys):
    status, out, _ = run(
        [draw(tmp_path / "seven.png"), "--json", "--top-k", "3"], tiny_model, capsys
    )
    assert status == common.EXIT_OK
    record = json.loads(out[0])
    assert set(record) == {"path", "digit", "number", "confidence", "probabilities", "top",
                           "digits", "uncertain", "no_digit", "error"}
    assert record["error"] is None and record["no_digit"] is None and record["number"] is None
    assert record["digits"] == [] and record["uncertain"] is False
    assert 0 <= record["digit"] <= 9 and len(record["probabilities"]) == 10
    assert sum(record["probabilities"]) == pytest.approx(1, abs=1e-3)
    assert record["confidence"] == max(record["probabilities"])
    probabilities = [entry["probability"] for entry in record["top"]]
    assert len(probabilities) == 3 and probabilities == sorted(probabilities, reverse=True)
    assert record["top"][0]["digit"] == record["digit"]


def test_below_min_confidence_a_picture_has_no_digit(tmp_path, tiny_model, capsys):
    picture = draw(tmp_path / "seven.png")
    status, out, err = run([picture, "--json", "--min-confidence", "1"], tiny_model, capsys)
    record = json.loads(out[0])
    # An answer, not a failure: the reason is given, the status is 0 and stderr is quiet.
    assert status == common.EXIT_OK and err == [] and record["error"] is None
    assert record["digit"] is None and record["number"] is None
    assert record["no_digit"].startswith("no digit: the marks look like none of 0-9")
    assert len(record["probabilities"]) == 10  # the best guesses stay visible
    _, out, _ = run([picture, "--json", "--min-confidence", "0"], tiny_model, capsys)
    assert json.loads(out[0])["digit"] is not None
    _, out, _ = run([picture, "--min-confidence", "1"], tiny_model, capsys)
    assert out[1].split()[:2] == ["-", "-"] and out[1].endswith(")") and "(no digit:" in out[1]


def test_a_number_is_read_as_a_number_and_a_digit_as_a_digit(tmp_path, tiny_model, capsys):
    number, seven = draw(tmp_path / "2024.png", "2024", size=(520, 200)), draw(tmp_path / "7.png")
    _, out, _ = run([number, seven, "--json"], tiny_model, capsys)
    read_number, read_seven = map(json.loads, out)
    assert len(read_number["digits"]) == 4 and read_number["digit"] is None
    assert read_seven["number"] is None and read_seven["digit"] is not None
    _, out, _ = run([number, "--json", "--single"], tiny_model, capsys)
    assert json.loads(out[0])["number"] is None
    _, out, _ = run([seven, "--json", "--multi"], tiny_model, capsys)
    assert json.loads(out[0])["number"] is not None


def test_multi_reads_each_digit_of_a_number(tmp_path, tiny_model, capsys):
    picture = draw(tmp_path / "2024.png", "2024", size=(520, 200))
    status, out, _ = run([picture, "--multi", "--json"], tiny_model, capsys)
    record = json.loads(out[0])
    assert status == common.EXIT_OK and len(record["digits"]) == 4
    assert record["number"] == "".join(str(d["digit"]) for d in record["digits"])
    assert record["confidence"] == min(d["confidence"] for d in record["digits"])
    assert record["digit"] is None
    status, out, _ = run([picture, "--multi"], tiny_model, capsys)
    assert out[1].split()[0] == record["number"] and out[2].split()[0] == "digits:"


def test_multi_reads_lines_top_to_bottom_separated_by_a_space(tmp_path, tiny_model, capsys):
    lines = Image.new("RGB", (520, 400), "white")
    lines.paste(Image.open(draw(tmp_path / "2024.png", "2024", size=(520, 200))), (0, 0))
    lines.paste(Image.open(draw(tmp_path / "70.png", "70", size=(520, 200))), (0, 200))
    lines.save(tmp_path / "lines.png")
    _, out, _ = run([tmp_path / "lines.png", "--multi", "--json"], tiny_model, capsys)
    record = json.loads(out[0])
    digits = "".join(str(d["digit"]) for d in record["digits"])
    assert record["number"] == f"{digits[:4]} {digits[4:]}"


def test_folders_globs_and_unusual_names_in_order(tmp_path, tiny_model, capsys):
    folder = tmp_path / "my pictures"
    names = ["b.png", "a.png", "ünïcødé 7.png", "with space.jpg"]
    for name in names:
        draw(folder / name)
    (folder / "notes.txt").write_text("not a picture")
    _, out, _ = run([folder, "--json", "--batch-size", "3"], tiny_model, capsys)
    assert [Path(json.loads(line)["path"]).name for line in out] == sorted(names)
    # A pattern as a shell that does not expand it passes it on.
    _, out, _ = run([str(folder / "*.png"), "--json"], tiny_model, capsys)
    expected = sorted(name for name in names if name.endswith(".png"))
    assert [Path(json.loads(line)["path"]).name for line in out] == expected


def test_many_pictures_read_by_processes_are_answered_as_by_one(tmp_path, tiny_model, capsys):
    # Past predict.PROCESS_START pictures, --workers 2 reads them in two processes.
    count = predict.PROCESS_START + 30
    for i in range(count):
        draw(tmp_path / f"{i:03d}.png", "0247"[i % 4] * (1 + i % 3), size=(120 + i, 100))
    (tmp_path / "050_broken.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    answers = {}
    for workers in ("1", "2"):
        status, out, err = run([tmp_path, "--json", "--workers", workers, "--batch-size", "16"],
                               tiny_model, capsys)
        answers[workers] = [json.loads(line) for line in out]
        assert status == common.EXIT_SOME_FAILED and len(err) == 1 and "050_broken" in err[0]
    assert len(answers["2"]) == count + 1
    assert answers["2"] == answers["1"]


def test_a_reading_process_that_dies_costs_no_picture(tmp_path, tiny_model):
    import signal

    paths = [draw(tmp_path / f"{i:03d}.jpg", "7", size=(900, 900)) for i in range(200)]
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "predict.py"), tmp_path, "--json", "--workers", "2",
         "--batch-size", "16", "--min-confidence", "0", "--model", tiny_model],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    first = process.stdout.readline()  # Reading is under way, a few batches ahead.
    children = Path(f"/proc/{process.pid}/task/{process.pid}/children").read_text().split()
    readers = [child for child in children
               if b"spawn_main" in Path(f"/proc/{child}/cmdline").read_bytes()]
    assert len(readers) == 2, children
    os.kill(int(readers[0]), signal.SIGKILL)  # as the out-of-memory killer would
    # Read through process.stdout: communicate() would miss the lines it already buffered.
    out, err = process.stdout.read(), process.stderr.read()
    assert process.wait(timeout=120) == 0, err[-2000:]
    records = [json.loads(line) for line in [first, *out.splitlines()]]
    assert [record["path"] for record in records] == [str(path) for path in paths]
    assert all(record["error"] is None for record in records)
    assert "Traceback" not in err


def test_broken_inputs_get_one_line_each_and_the_rest_is_answered(tmp_path, tiny_model, capsys):
    good = draw(tmp_path / "good.png")
    (tmp_path / "empty.png").write_bytes(b"")
    (tmp_path / "text.png").write_text("this is not a picture")
    (tmp_path / "drawing.svg").write_text('<svg xmlns="http://www.w3.org/2000/svg"/>')
    Image.new("L", (300, 300), 240).save(tmp_path / "blank.png")
    (tmp_path / "nothing here").mkdir()
    bad = [
        "empty.png",
        "text.png",
        "drawing.svg",
        "blank.png",
        "nothing here",
        "missing.png",
        "no*.png",
    ]
    argv = [tmp_path / name for name in bad[:5]] + [tmp_path / bad[5], str(tmp_path / bad[6])]
    status, out, err = run([good, *argv, "--json"], tiny_model, capsys)
    assert status == common.EXIT_SOME_FAILED
    records = [json.loads(line) for line in out]
    assert records[0]["error"] is None and records[0]["digit"] is not None
    assert all(r["digit"] is None for r in records[1:]) and len(records) == 8
    # A blank page is read, and holds no digit: an answer, not a failure.
    assert records[4]["error"] is None and records[4]["no_digit"].startswith("no ink found")
    assert all(r["error"] for r in records[1:4] + records[5:])
    assert len(err) == 6 and not any("Traceback" in line for line in err)
    reasons = " | ".join(err)
    for expected in [
        "empty file",
        "not an image",
        "SVG",
        "holds no pictures",
        "not found",
        "no files match",
    ]:
        assert expected in reasons


def test_names_that_cannot_be_looked_at_fail_alone(tmp_path, tiny_model, capsys):
    good = draw(tmp_path / "good.png")
    folder = tmp_path / "copied from a Mac"
    draw(folder / "seven.png")
    (folder / "._seven.png").write_bytes(b"\x00\x05\x16\x07 macOS metadata")
    too_long = tmp_path / ("a" * 300 + ".png")
    status, out, err = run([good, too_long, "", folder, "--json"], tiny_model, capsys)
    records = [json.loads(line) for line in out]
    assert status == common.EXIT_SOME_FAILED
    assert [Path(record["path"]).name for record in records] == [
        "good.png", too_long.name, "", "seven.png"]
    assert [record["error"] for record in records] == [
        None, "cannot be read (File name too long)", "empty name", None]
    assert records[1]["top"] is None  # Every record has every key.
    assert len(err) == 2


def test_a_pattern_of_any_depth_does_not_follow_links_that_loop(tmp_path, tiny_model, capsys):
    draw(tmp_path / "sub" / "a.png")
    (tmp_path / "sub" / "up").symlink_to("..")  # Followed, each loop would match a.png again.
    (tmp_path / "self").symlink_to(".")
    status, out, _ = run([str(tmp_path / "**" / "*.png"), "--json"], tiny_model, capsys)
    assert status == common.EXIT_OK
    assert [json.loads(line)["path"] for line in out] == [str(tmp_path / "sub" / "a.png")]


def test_names_with_line_breaks_or_dollars_keep_one_line_each(tmp_path, tiny_model, capsys):
    picture = draw(tmp_path / "$12_$7.png")  # matplotlib would read "$...$" as a formula
    broken = tmp_path / "a\nb.png"
    broken.write_text("not a picture")
    status, out, err = run([picture, broken, "--show", tmp_path / "seen.png"], tiny_model,
                           capsys)
    assert status == common.EXIT_SOME_FAILED and (tmp_path / "seen.png").is_file()
    assert err[0].endswith(f": {tmp_path}/a\\nb.png: not an image file (Pillow cannot identify it)")
    assert len(err) == 2 and err[1].startswith("wrote ")  # --show's line
    assert len(out) == 3 and out[2].startswith(" " * 13 + "-") and "a\\nb.png" in out[2]


def test_json_is_valid_whatever_the_output_encoding(tmp_path, tiny_model):
    picture = draw(tmp_path / "ünïcødé 7😀.png")
    result = subprocess.run(
        [sys.executable, str(ROOT / "predict.py"), str(picture), "--json", "--model",
         str(tiny_model)],
        check=False, capture_output=True, text=True, cwd=ROOT, timeout=120,
        env={**os.environ, "PYTHONIOENCODING": "ascii"},
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["path"] == str(picture)


def test_options_may_come_between_the_pictures(tmp_path, tiny_model, capsys):
    pictures = [draw(tmp_path / "a.png"), draw(tmp_path / "b.png")]
    status, out, _ = run([pictures[0], "--json", pictures[1]], tiny_model, capsys)
    assert status == common.EXIT_OK
    assert [Path(json.loads(line)["path"]).name for line in out] == ["a.png", "b.png"]


def test_multi_on_dashes_a_pixel_tall_answers_the_other_pictures(tmp_path, tiny_model, capsys):
    # Marks one or two pixels tall made the cut between touching digits divide by nothing.
    dashes = Image.new("L", (256, 20), 255)
    pen = ImageDraw.Draw(dashes)
    for left in (20, 100):
        pen.line((left, 8, left + 60, 8), fill=0, width=1)
    pen.line((180, 10, 240, 10), fill=0, width=2)
    dashes.save(tmp_path / "dashes.png")
    pictures = [draw(tmp_path / "a.png"), tmp_path / "dashes.png", draw(tmp_path / "b.png", "24")]
    status, out, err = run([*pictures, "--multi", "--json"], tiny_model, capsys)
    assert status == common.EXIT_OK and err == []
    assert [len(json.loads(line)["number"]) for line in out][::2] == [1, 2]


def test_a_model_giving_scores_not_probabilities_is_refused(tmp_path, capsys):
    import keras

    pixels = keras.Input((28, 28, 1))
    scores = keras.layers.Dense(10, bias_initializer=keras.initializers.Constant(5.0))
    keras.Model(pixels, scores(keras.layers.Flatten()(pixels))).save(tmp_path / "scores.keras")
    status, out, err = run([draw(tmp_path / "a.png")], tmp_path / "scores.keras", capsys)
    assert status == common.EXIT_USAGE and len(err) == 1 and out == []  # not even a header
    assert "does not give probabilities" in err[0] and "softmax" in err[0]


def test_show_draws_what_the_model_saw(tmp_path, tiny_model, capsys):
    panel = tmp_path / "panel.png"
    pictures = [draw(tmp_path / "seven.png"), tmp_path / "missing.png"]
    status, _, _ = run([*pictures, "--show", panel], tiny_model, capsys)
    assert status == common.EXIT_SOME_FAILED and panel.is_file()
    with Image.open(panel) as image:
        assert image.format == "PNG" and image.height > 200
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".panel")] == []


def test_usage_errors_exit_2(tmp_path, tiny_model, capsys):
    picture = draw(tmp_path / "seven.png")
    (tmp_path / "folder.png").mkdir()
    for flags in (["--top-k", "0"], ["--min-confidence", "1.5"], ["--show", "panel.txt"],
                  ["--show", str(tmp_path / "folder.png")],
                  ["--batch-size", "99999999999999999999"]):
        with pytest.raises(SystemExit) as stop:
            predict.main([str(picture), *flags])
        assert stop.value.code == common.EXIT_USAGE
    capsys.readouterr()
    status, _, err = run([picture], tmp_path / "no_model.keras", capsys)
    assert status == common.EXIT_USAGE and len(err) == 1 and "not found" in err[0]


def test_workers_are_at_most_the_cores(tmp_path):
    """--workers 80 started 64 processes on 2 cores."""
    args = predict.parse_args([str(tmp_path / "seven.png"), "--workers", "80"])
    assert args.workers == reading_pool.cores()


def command(*argv):
    return subprocess.run(
        [sys.executable, str(ROOT / "predict.py"), *map(str, argv)],
        check=False,
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )


def test_cli_exit_status_1_when_some_input_failed(tmp_path, tiny_model):
    result = command(draw(tmp_path / "seven.png"), tmp_path / "missing.png", "--model", tiny_model)
    assert result.returncode == 1
    assert "seven.png" in result.stdout
    # TensorFlow may add its own start-up lines; ours are the ones that name the script.
    ours = [line for line in result.stderr.splitlines() if line.startswith("predict.py:")]
    assert ours == [f"predict.py: {tmp_path / 'missing.png'}: not found"]
    assert "Traceback" not in result.stderr


def test_cli_usage_errors_exit_2_without_loading_tensorflow(tmp_path):
    assert command("x.png", "--top-k", "11").returncode == 2
    result = command("x.png", "--model", tmp_path / "missing.keras")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_start_up_imports_no_tensorflow_keras_matplotlib_or_pillow_heif():
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import predict"],
        check=False,
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    imported = {line.split("|")[-1].strip().split(".")[0] for line in result.stderr.splitlines()}
    assert result.returncode == 0 and "numpy" in imported
    # pillow-heif too: it is loaded only when a HEIC photo comes.
    assert not imported & {"tensorflow", "keras", "matplotlib", "pillow_heif"}


def test_pictures_that_all_fail_load_no_model_and_no_tensorflow(tmp_path, tiny_model):
    """predict.py missing.jpg took seconds, importing TensorFlow for the model first."""
    from conftest import run_noting_imports

    (tmp_path / "text.png").write_text("not a picture")
    result, imported = run_noting_imports("predict.py", tmp_path / "missing.jpg",
                                          tmp_path / "text.png", "--model", tiny_model,
                                          cwd=tmp_path)
    assert result.returncode == common.EXIT_SOME_FAILED and imported == set()
    assert len(result.stderr.splitlines()) == 2 and "Traceback" not in result.stderr
    # With one picture that has ink, the .keras model is loaded, and TensorFlow with it.
    result, imported = run_noting_imports("predict.py", tmp_path / "missing.jpg",
                                          draw(tmp_path / "seven.png"), "--model", tiny_model,
                                          cwd=tmp_path)
    assert result.returncode == common.EXIT_SOME_FAILED and "tensorflow" in imported
    assert "seven.png" in result.stdout


def test_a_missing_model_is_said_before_any_picture_is_read(tmp_path, capsys):
    status, out, err = run([tmp_path / "missing.jpg", "--json"], tmp_path / "none.tflite",
                           capsys)
    assert status == common.EXIT_USAGE and out == [] and len(err) == 1
    assert err[0].endswith(f": error: model {tmp_path / 'none.tflite'} not found: run "
                           "`python train.py` first")
