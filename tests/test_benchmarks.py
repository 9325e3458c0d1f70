"""The picture benchmarks (custom_images.py, ruled_paper.py, desk_photos.py, phone_photos.py,
form_fields.py and close_crops.py) on a few pictures each: they build their set (from the
real MNIST test digits, or the stroke model alone), rebuild it identically from its seed,
read it with a real (tiny) model and refuse bad arguments with one line. Their accuracy
figures belong to the README, measured with the trained model; here the model only has to
run."""

import json

import pytest
from conftest import SHARED_MNIST, run_script
from PIL import Image, ImageDraw

pytestmark = pytest.mark.slow  # The sets are drawn from ../shared/mnist, or at 12 megapixels.


def run_benchmark(script, *args, cwd):
    return run_script(f"benchmarks/{script}", "--mnist-dir", SHARED_MNIST, *args, cwd=cwd)


def pictures(folder):
    return {path.name: path.read_bytes() for path in sorted(folder.glob("*.jpg"))}


def build_twice(script, count, model, tmp_path):
    """Builds the set from seed 3 into two folders and reads each; returns the two reports."""
    reports = []
    for name in ("first", "second"):
        result = run_benchmark(script, "--count", count, "--seed", 3, "--model", model,
                               "--out", tmp_path / name, "--report", tmp_path / f"{name}.json",
                               cwd=tmp_path)
        assert result.returncode == 0, result.stderr[-2000:]
        reports.append(json.loads((tmp_path / f"{name}.json").read_text()))
    return reports


def test_ruled_paper_builds_reproducible_photos_and_scores_every_kind(tmp_path, tiny_model):
    reports = build_twice("ruled_paper.py", 9, tiny_model, tmp_path)

    labels = (tmp_path / "first" / "labels.csv").read_text().splitlines()
    assert labels[0] == "label,paper,plain,lined,boxed,circled" and len(labels) == 10
    first = pictures(tmp_path / "first")
    assert len(first) == 36  # Each digit on plain paper, on lined paper, in a box and a ring.
    assert first == pictures(tmp_path / "second")  # The seed alone fixes every photo.

    report = reports[0]
    assert report["pictures"] == 9
    papers = [line.split(",")[1] for line in labels[1:]]
    for key in ("plain_paper", "boxed_box_removed", "boxed_box_kept",
                "circled_ring_removed", "circled_ring_kept",
                "ruled_lines_removed", "ruled_lines_kept",
                "squared_lines_removed", "squared_lines_kept"):
        kind = key.split("_")[0]
        shown = papers.count(kind) if kind in ("ruled", "squared") else len(papers)
        if shown == 0:  # A small set may draw no squared paper: scored as nothing, not 0%.
            assert report[key] is None
            continue
        score = report[key]
        assert 0 <= score["errors"] <= shown
        assert score["accuracy"] == round(1 - score["errors"] / shown, 4)
    assert {key: reports[1][key] for key in report if key != "set"} == {
        key: value for key, value in report.items() if key != "set"}


def test_form_fields_builds_reproducible_forms_and_scores_every_layout(tmp_path, tiny_model):
    reports = build_twice("form_fields.py", 6, tiny_model, tmp_path)

    labels = (tmp_path / "first" / "labels.csv").read_text().splitlines()
    assert labels[0] == "file,label,layout" and len(labels) == 7
    first = pictures(tmp_path / "first")
    assert len(first) == 6 and first == pictures(tmp_path / "second")

    report = reports[0]
    assert report["pictures"] == 6
    layouts = [line.split(",")[2] for line in labels[1:]]
    for step in ("", "_form_step_off"):
        assert report[f"all{step}"]["accuracy"] == round(1 - report[f"all{step}"]["errors"] / 6, 4)
        for layout, score in report[f"by_layout{step}"].items():
            if layout not in layouts:  # A small set may draw no single box: nothing, not 0%.
                assert score is None
            else:
                assert 0 <= score["errors"] <= layouts.count(layout)
    assert {key: reports[1][key] for key in report if key != "set"} == {
        key: value for key, value in report.items() if key != "set"}


def test_desk_photos_builds_reproducible_photos_and_scores_every_kind(tmp_path, tiny_model):
    reports = build_twice("desk_photos.py", 8, tiny_model, tmp_path)
    labels = (tmp_path / "first" / "labels.csv").read_text().splitlines()
    assert labels[0] == "label,surface,sheet,plain,desk,note,note_colour,note_desk"
    assert len(labels) == 9
    sheets = [float(line.split(",")[2]) for line in labels[1:]]
    assert all(0.45 <= sheet <= 0.95 for sheet in sheets)  # the desk shows, the sheet dominates
    first = pictures(tmp_path / "first")
    assert len(first) == 24 and first == pictures(tmp_path / "second")
    report = reports[0]
    for kind in ("plain", "desk", "note"):
        assert report[kind]["accuracy"] == round(1 - report[kind]["errors"] / 8, 4)
    assert sum(score["errors"] for score in report["desk_by_surface"].values()) == \
        report["desk"]["errors"] == len(report["desk_errors"])
    assert sum(score["errors"] for score in report["note_by_desk"].values()) == \
        report["note"]["errors"]
    assert {key: reports[1][key] for key in report if key != "set"} == {
        key: value for key, value in report.items() if key != "set"}


def test_phone_photos_builds_12_megapixel_photos_once_and_scores_them(tmp_path, tiny_model):
    arguments = ["--count", 2, "--seed", 3, "--model", tiny_model,
                 "--report", tmp_path / "report.json"]
    result = run_script("benchmarks/phone_photos.py", *arguments, "--out", tmp_path / "set",
                        cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    rows = (tmp_path / "set" / "labels.csv").read_text().splitlines()
    assert rows[0] == "file,label,pen,ink,pen_pixels,digit_pixels,seed" and len(rows) == 3
    for name in pictures(tmp_path / "set"):
        with Image.open(tmp_path / "set" / name) as photo:
            assert sorted(photo.size) == [3024, 4032]
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["pictures"] == 2
    assert report["accuracy"]["errors"] == len(report["errors"]) <= 2
    for key in ("by_pen", "by_stroke_at_work_size"):
        assert sum(score["errors"] for score in report[key].values()) == len(report["errors"])

    built = {path: path.stat().st_mtime_ns for path in (tmp_path / "set").iterdir()}
    again = run_script("benchmarks/phone_photos.py", *arguments, "--out", tmp_path / "set",
                       cwd=tmp_path)
    assert again.returncode == 0  # The set is reused, not drawn again...
    assert {path: path.stat().st_mtime_ns for path in built} == built
    fresh = run_script("benchmarks/phone_photos.py", *arguments, "--out", tmp_path / "other",
                       cwd=tmp_path)
    assert fresh.returncode == 0  # ...and drawn again elsewhere, the same to the byte.
    assert pictures(tmp_path / "set") == pictures(tmp_path / "other")


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--count", "0"], "--count"),
        (["--seed", "-1"], "--seed must be at least 0"),
        (["--model", "missing.keras"], "missing.keras not found"),
    ],
)
def test_phone_photos_refuses_bad_arguments_with_one_line(tmp_path, tiny_model, arguments,
                                                           message):
    result = run_script("benchmarks/phone_photos.py", "--model", tiny_model,
                        "--out", tmp_path / "set", "--report", tmp_path / "report.json",
                        *arguments, cwd=tmp_path)
    assert_refused(result, "phone_photos.py", message, tmp_path)


def test_custom_images_builds_its_set_once_and_reports_every_part(tmp_path, tiny_model):
    arguments = ["--count", 12, "--numbers", 2, "--lines", 2, "--throughput-count", 20,
                 "--model", tiny_model,
                 "--out", tmp_path / "set", "--report", tmp_path / "report.json"]
    result = run_benchmark("custom_images.py", *arguments, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "building 16 pictures" in result.stdout
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["pictures"] == 12
    assert report["numbers"]["pictures"] == 2 and report["lines"]["pictures"] == 2
    assert report["mnist_test_pngs"]["files"] == 20
    for part in ("pipeline", "naive", "clean_shapes"):
        assert report[part]["errors"] == round((1 - report[part]["accuracy"]) * 12)
    assert len((tmp_path / "set" / "labels.csv").read_text().splitlines()) == 1 + 12
    assert len((tmp_path / "set" / "numbers.csv").read_text().splitlines()) == 1 + 2
    lines = (tmp_path / "set" / "lines.csv").read_text().splitlines()[1:]
    assert len(lines) == 2 and all(len(row.split(",")[1].split()) in (2, 3) for row in lines)
    assert report["speed"]["custom_pictures_per_second"] > 0

    built = {path: path.stat().st_mtime_ns for path in (tmp_path / "set").iterdir()}
    again = run_benchmark("custom_images.py", *arguments, cwd=tmp_path)
    assert again.returncode == 0 and "building" not in again.stdout  # The set is reused.
    assert {path: path.stat().st_mtime_ns for path in built} == built
    repeat = json.loads((tmp_path / "report.json").read_text())
    assert repeat["pipeline"] == report["pipeline"] and repeat["naive"] == report["naive"]


@pytest.mark.parametrize("script", ["custom_images.py", "ruled_paper.py", "desk_photos.py",
                                    "form_fields.py"])
@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--count", "0"], "--count"),
        (["--seed", "-1"], "--seed must be at least 0"),
        (["--model", "missing.keras"], "missing.keras not found"),
        (["--mnist-dir", "nowhere"], "MNIST test split not found in"),
    ],
)
def test_bad_arguments_get_one_line_and_status_2(tmp_path, tiny_model, script, arguments,
                                                 message):
    # Later arguments win, so --mnist-dir nowhere replaces the real one.
    result = run_benchmark(script, "--model", tiny_model, "--out", tmp_path / "set",
                           "--report", tmp_path / "report.json", *arguments, cwd=tmp_path)
    assert_refused(result, script, message, tmp_path)


def assert_refused(result, script, message, tmp_path):
    """A benchmark refused its arguments: status 2, one line naming the problem, nothing
    written."""
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    last = result.stderr.strip().splitlines()[-1]  # Argument errors print the usage above it.
    assert last.startswith(f"{script}: error: ") and message in last
    assert not (tmp_path / "report.json").exists() and not (tmp_path / "set").exists()


def seven(size=(300, 320)):
    """A dark 7 on light paper, its strokes within x 100-180 and y 60-240 (pen 12 wide)."""
    paper = Image.new("RGB", size, (235, 230, 220))
    ImageDraw.Draw(paper).line([(100, 60), (180, 60), (130, 240)], fill=(30, 30, 60), width=12)
    return paper


def test_close_crops_cuts_each_picture_to_its_digit_and_scores_every_margin(tmp_path,
                                                                             tiny_model):
    # Two kinds of set: pictures listed as "file", or several per digit with "plain" read.
    listed, several = tmp_path / "listed", tmp_path / "several"
    listed.mkdir(), several.mkdir()
    seven().save(listed / "upright.png")
    exif = Image.Exif()
    exif[0x0112] = 6  # stored sideways: "rotate 90 degrees clockwise to display"
    seven().transpose(Image.Transpose.ROTATE_90).save(listed / "sideways.jpg", exif=exif)
    (listed / "labels.csv").write_text("file,label\nupright.png,7\nsideways.jpg,7\n")
    seven((400, 300)).save(several / "0000_plain.png")
    (several / "labels.csv").write_text("label,plain,lined\n7,0000_plain.png,0000_lined.png\n")
    result = run_script("benchmarks/close_crops.py", listed, several, "--margins", 0, 0.25,
                        "--model", tiny_model, "--out", tmp_path / "crops",
                        "--report", tmp_path / "report.json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]

    report = json.loads((tmp_path / "report.json").read_text())
    assert report["pictures"] == 3 and report["left_out"] == 0
    for margin, expected in (("0", (92, 192)), ("0.25", (138, 288))):
        crops = tmp_path / "crops" / f"margin_{margin}"
        names = ["listed_upright.png", "listed_sideways.png", "several_0000_plain.png"]
        assert (crops / "labels.csv").read_text().splitlines()[1:] == [
            f"{name},7" for name in names]
        for name in names:  # The digit's box as drawn, upright, widened by the margin.
            with Image.open(crops / name) as crop:
                assert abs(crop.width - expected[0]) <= 8 and abs(crop.height - expected[1]) <= 8
        score = report["by_margin"][margin]
        # Every crop is read (no error); the tiny model may refuse some as not sure enough.
        assert score["errors"] == len(score["wrong"])
        assert all(wrong["error"] is None for wrong in score["wrong"])
        assert score["unanswered"] == sum(wrong["read"] is None for wrong in score["wrong"])
        assert score["accuracy"] == round(1 - score["errors"] / 3, 4)


@pytest.mark.parametrize(("labels", "arguments", "message"), [
    ("file,label\na.png,7\n", ["--margins", "-0.1"], "--margins must be between 0 and 1"),
    ("file,label\na.png,7\n", ["--model", "missing.keras"], "missing.keras not found"),
    ("file,label\n", [], "labels.csv lists no pictures"),
    ("label,lined\n7,a.png\n", [], "labels.csv lists no pictures (as file or plain)"),
    ("file,label\na.png,seven\n", [], "labels.csv has a label that is not a digit"),
    (None, [], "holds no labels.csv: build it with its benchmark first"),
])
def test_close_crops_refuses_bad_arguments_with_one_line(tmp_path, tiny_model, labels,
                                                        arguments, message):
    (tmp_path / "set").mkdir()
    if labels is not None:
        (tmp_path / "set" / "labels.csv").write_text(labels)
    result = run_script("benchmarks/close_crops.py", tmp_path / "set", "--model", tiny_model,
                        "--out", tmp_path / "crops", "--report", tmp_path / "report.json",
                        *arguments, cwd=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert message in result.stderr.strip().splitlines()[-1]
    assert not (tmp_path / "report.json").exists() and not (tmp_path / "crops").exists()


def test_writer_order_finds_writers_kept_together_in_the_training_file(tmp_path):
    """The measurement behind preprocess.py's validation split, on the real MNIST."""
    assert run_script("preprocess.py", "--source", SHARED_MNIST, cwd=tmp_path).returncode == 0
    result = run_script("benchmarks/writer_order.py", "--json", tmp_path / "order.json",
                        cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "| thickness |" in result.stdout
    report = json.loads((tmp_path / "order.json").read_text())
    for by_gap in report["correlation_by_gap"].values():
        # Neighbours in the same stream share a writer; images far apart do not.
        assert by_gap["2"] > 0.2 and by_gap["1000"] < 0.05 and by_gap["5000"] < 0.05
    thickness = report["mean_thickness"]
    assert thickness["training file, odd places"] - thickness["training file, even places"] > 0.3


def test_serve_load_posts_drawings_to_a_real_server_and_reports_the_table(tmp_path, tiny_model):
    result = run_benchmark("serve_load.py", "--clients", 2, "--seconds", 2, "--count", 20,
                           "--model", tiny_model, "--out", tmp_path / "drawings",
                           "--log", tmp_path / "server.log", "--report", tmp_path / "load.json",
                           cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads((tmp_path / "load.json").read_text())
    assert report["clients"] == 2 and report["pictures"] == 20
    assert report["answers"] == report["requests"] > 0 and report["errors"] == 0
    assert report["differ_from_predict"] == 0  # The server's answers are predict.py's.
    assert report["answers_per_second"] > 0 and report["predict_files_per_second"]["mean"] > 0
    assert 0 < report["latency_ms"]["p50"] <= report["latency_ms"]["p99"]
    assert report["server_rss_mib"]["before"] > 0 and report["server_rss_mib"]["after"] > 0
    assert "| answers/s |" in result.stdout
    log = (tmp_path / "server.log").read_text()
    assert log.count('"POST /api/predict HTTP/1.1" 200') == report["requests"] + 1  # + warm-up
