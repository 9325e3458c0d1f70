"""Reads the handwritten digits in your own pictures with the trained model.

Reads:  pictures (files, folders of pictures, glob patterns) and the model: by default
        models/digit_cnn.tflite, the float LiteRT export, while export.py's record ties it to
        models/digit_cnn.keras as that file is now (it starts in a fraction of a second and
        gives the same probabilities), else models/digit_cnn.keras (TensorFlow, seconds to
        start), saying in one line why; --model names any other
Writes: one line per picture to stdout, as a table or (--json) as JSON lines; with --show,
        a PNG with what the model saw for each picture

Photos, scans and paint-app drawings in any raster format Pillow reads are brought into
MNIST's form (white digit on black, fitted into 20x20 and centred by mass in 28x28) by
digit_image, and recognize.py decides what each holds: a digit, a number such as "2024" (or
several lines of them, top to bottom, "1999 2024"), or no digit. A picture is answered with
no digit when nothing in it is a digit the model is sure of, at --min-confidence of its
calibrated probability: a letter, a symbol, a drawing, a blank page. --multi reads every
picture as a number, --single as one digit. A picture that cannot be read is reported in
one line on stderr while the others are still answered; the exit status is then 1 (2 for bad
options or model; a picture with no digit is an answer, not a failure). The model is loaded
when the first picture read needs it: a run whose pictures all fail loads none.

Each --json line holds "path"; "digit" (the digit, or null) or "number" (the digits read, as
a string, or null); "confidence" (the answer's probability; a number's is its least sure
digit's); "probabilities" (ten) and "top" (the --top-k most likely digits) of the picture
read as one digit; "digits" (one such object per digit of a number); "uncertain" (a number
with a digit under --min-confidence); "no_digit" (why there is no digit, or null) and
"error" (why the picture could not be read, or null).

    python predict.py examples/
    python predict.py "scans/*.jpg" --json --top-k 3
    python predict.py examples/2024.png --multi --show what_the_model_saw.png
    python predict.py examples/7_photo_sideways.jpg --model models/digit_cnn.tflite
"""

import argparse
import collections
import errno
import glob
import itertools
import json
import multiprocessing
import concurrent.futures
import os
import signal
import sys
import warnings
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import numpy as np

import common
import digit_image
import model_files
import recognize
import safe_files

SHOW_LIMIT = 40  # Pictures drawn by --show; a taller figure is unreadable.
SHOW_SUFFIXES = (".png", ".pdf", ".svg")
# What --show may replace: only a panel of its own (safe_files.output_kind), never a picture.
SHOW_KIND = "figure!:predict.py --show"
GLOB_CHARACTERS = set("*?[")
# Runs shorter than this are read in this process: starting reading processes costs about
# 0.3 s (each imports NumPy, OpenCV and Pillow), more than reading 64 small drawings takes.
PROCESS_START = 64
READ_CHUNK = 8  # pictures per task handed to a reading process: fewer round trips


def parse_args(argv):
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument(
        "inputs", nargs="+", metavar="PICTURE", help="picture files, folders or glob patterns"
    )
    parser.add_argument(
        "--model",
        type=Path,
        default=argparse.SUPPRESS,  # Not None, which --help would show as the default.
        help="a .keras, .tflite or .onnx file or SavedModel folder, as export.py writes them "
             f"(default: {common.MODEL_PATH.with_suffix('.tflite')} while export.py's record "
             f"ties it to {common.MODEL_PATH} as that file is now, else {common.MODEL_PATH})",
    )
    reading = parser.add_mutually_exclusive_group()
    reading.add_argument("--multi", action="store_true",
                         help='read every picture as a number, such as "2024" (by default a '
                              "picture is read as a number when it holds several digits)")
    reading.add_argument("--single", action="store_true",
                         help="read every picture as one digit, all its marks together")
    parser.add_argument("--json", action="store_true", help="print one JSON object per picture")
    parser.add_argument("--top-k", type=int, default=2, help="most likely digits to list (1-10)")
    parser.add_argument(
        "--min-confidence",
        type=float,
        default=recognize.MIN_CONFIDENCE,
        help="a digit less probable than this is not given (no digit), or marked uncertain "
             "in a number",
    )
    parser.add_argument("--show", type=Path, help="also draw what the model saw into this PNG")
    parser.add_argument("--batch-size", type=int, default=256, help="pictures per model call")
    parser.add_argument("--workers", type=int, default=cores(),
                        help="processes reading pictures side by side (this machine's cores)")
    common.add_tta_flag(parser)
    common.add_debug_flag(parser)
    args = parser.parse_intermixed_args(argv)  # Options may come between the pictures.
    args.model = getattr(args, "model", None)  # None: the model model_files.model_to_serve() picks.
    args.mode = "number" if args.multi else "digit" if args.single else "auto"
    if not 1 <= args.top_k <= common.NUM_CLASSES:
        parser.error(f"--top-k must be between 1 and {common.NUM_CLASSES}")
    if not 0 <= args.min_confidence <= 1:
        parser.error("--min-confidence must be between 0 and 1")
    if args.batch_size < 1 or args.workers < 1:
        parser.error("--batch-size and --workers must be at least 1")
    if args.show and args.show.suffix.lower() not in SHOW_SUFFIXES:
        parser.error(f"--show must name a {', '.join(SHOW_SUFFIXES)} file")
    if args.show and args.show.is_dir():
        parser.error(f"--show {args.show} is a folder: name a file in it")
    return args


def loaded_when_needed(path, tta):
    """classify(images) -> probabilities with the model at path, loaded on the first call:
    pictures that all fail (not found, unreadable, no ink) load no model, and no TensorFlow.
    A model that cannot be loaded is refused before any answer of the batch that needed it
    is printed (with the default --batch-size, of the first 256 pictures)."""
    classify = None

    def classify_loading_first(images):
        nonlocal classify
        if classify is None:
            classify = model_files.load_classifier(path)
            if tta:
                classify = common.with_shift_averaging(classify)
        return classify(images)

    return classify_loading_first


def print_header(args):
    runners_up = "runner-up" if args.top_k > 1 else ""
    print(f"{'answer':>{ANSWER_WIDTH}}  {'confidence':>10}  "
          f"{runners_up:<{runners_up_width(args)}}path")


def cores():
    """The CPU cores this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


def main(argv=None):
    args = parse_args(argv)
    if "stdout" in common.standard_streams():  # `>&-`: the answers would be lost.
        raise common.UserError("standard output is closed: there is nowhere to print the "
                               "answers (send it to a file: > answers.txt)")
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):  # Not on a StringIO, as some callers pass.
            # A file name that is not valid UTF-8 is shown escaped instead of stopping the run.
            stream.reconfigure(errors="backslashreplace")
    if args.show:
        common.writable_folder(args.show.parent)
        # The panel replaces neither a picture it reads nor any file but an earlier panel.
        picture = show_is_an_input(args.show, args.inputs)
        if picture is not None:
            raise common.UserError(f"--show {args.show} is one of the pictures read ({picture}):"
                                   " choose another name for the panel")
    model = args.model if args.model is not None else model_files.model_to_serve()
    if args.show:
        common.check_outputs({args.show: SHOW_KIND}, inputs=[model])
    model_files.check_model_path(model)  # Missing or of no known format: said before any picture.
    classify = loaded_when_needed(model, args.tta)
    shown, answered, any_failed = [], 0, False
    for record, images in answer(args.inputs, classify, args):
        any_failed |= record["error"] is not None
        if answered == 0 and not args.json:
            print_header(args)
        answered += 1
        report(record, args)
        sys.stdout.flush()  # Each answer appears as soon as it is known, even in a pipe.
        if args.show and len(shown) < SHOW_LIMIT:
            shown.append((record, images))
    if args.show:
        draw_panels(shown, args.show)
        if answered > SHOW_LIMIT:
            print(f"--show drew the first {SHOW_LIMIT} of {answered} pictures", file=sys.stderr)
    return common.EXIT_SOME_FAILED if any_failed else common.EXIT_OK


def answer(inputs, classify, args):
    """Yields (record, 28x28 images) for each picture the inputs name, in order.

    With --workers above 1 and more than a few pictures, they are read by that many processes
    side by side (reading is mostly Python, which threads could not run at once), and
    classified here in batches of args.batch_size. Everything is a generator and reading runs
    at most a few batches ahead of the answers, so a million paths never become a million
    pictures in memory.
    """
    named = expand(inputs)
    first = list(itertools.islice(named, PROCESS_START))
    named = itertools.chain(first, named)
    if args.workers > 1 and len(first) == PROCESS_START:
        readings = read_in_processes(named, args.workers, 2 * args.batch_size, args.debug)
    else:
        readings = (read_picture(path, error, args.debug) for path, error in named)
    yield from classified(readings, classify, args)


def read_in_processes(named, workers, ahead, debug):
    """The Readings of the (path, error) pairs in order, read by workers processes, at most
    ahead pictures before the one yielded.

    A process that dies (a crash inside a decoder, the kernel's out-of-memory killer) costs
    only the picture it was on: the pool is started again, its chunk is read again a picture
    at a time, and a picture on which a reading process dies twice is answered with that.
    """
    chunks = iter(lambda: list(itertools.islice(named, READ_CHUNK)), [])
    pool = reading_pool(workers)
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
            pool = reading_pool(workers)
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
                yield recognize.read(path, error or "could not be read (the reading process "
                                     "stopped: a crash in a decoder, or out of memory)")
    finally:  # Stopped early (Ctrl-C, a closed pipe): the reads not yet begun are dropped.
        pool.shutdown(cancel_futures=True)


def reading_pool(workers):
    """A pool of workers processes to read pictures in (serve.py's too). Started afresh, not
    forked: no copy of a loaded model or of its threads. Ctrl-C is the parent's to handle."""
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


def classified(readings, classify, args):
    """(record, the 28x28 images the answer rests on) for each picture read, classified a
    batch at a time."""
    while batch := list(itertools.islice(readings, args.batch_size)):
        images = [image for reading in batch for image in reading.images]
        probabilities = classify(np.stack(images)) if images else np.zeros((0, 10))
        for reading in batch:
            count = len(reading.images)
            record = recognize.answer(reading, probabilities[:count], args.mode,
                                      args.min_confidence, args.top_k)
            yield record, recognize.seen(reading, record)
            probabilities = probabilities[count:]


def expand(inputs):
    """Yields (path, error) for each picture named by the inputs, in order, lazily.

    A folder gives its picture files sorted by name; a pattern such as "*.png" is expanded
    here too, for shells that do not. error is a message when an input names nothing usable.
    """
    for name in inputs:
        kind = kind_of(name) if name else "empty name"
        if kind == "not found" and GLOB_CHARACTERS & set(name):
            matches = matching(name)
            if not matches:
                yield name, "no files match this pattern"
            for match in matches:
                yield from named(match, kind_of(match))
        else:
            yield from named(name, kind)


def kind_of(name):
    """"folder", "file" (or anything else that exists), "not found", or why it cannot be
    told: a name too long, a symbolic link loop, a folder on the way that may not be
    entered, "-" (standard input, which is not read)."""
    if name == "-":
        return "reading standard input is not supported: name a picture file"
    path = Path(name)
    try:
        if path.is_dir():
            return "folder"
        os.stat(path)
        return "file"
    except ValueError:  # A name holding a NUL character.
        return "not found"
    except OSError as error:
        if error.errno in (errno.ENOENT, errno.ENOTDIR):
            return "not found"
        if error.errno == errno.ELOOP:
            return "a symbolic link loop"
        return f"cannot be read ({error.strerror})"


def show_is_an_input(show, inputs):
    """The input (a picture, or a folder or pattern that holds one) whose file --show would
    replace, or None."""
    if not os.path.lexists(show):
        return None
    for name in inputs:
        if safe_files.same_file(show, name):
            return name
        if kind_of(name) == "folder" and safe_files.same_file(show, Path(name) / show.name):
            return name
        if GLOB_CHARACTERS & set(name) and any(safe_files.same_file(show, match)
                                               for match in matching(name)):
            return name
    return None


def named(name, kind):
    """(path, error) for what a name of this kind_of() holds: a folder's pictures, a file, or
    why there is none."""
    if kind == "folder":
        yield from expand_folder(Path(name))
    else:
        yield name, None if kind == "file" else kind


def matching(pattern):
    """The paths a pattern matches, sorted. "**" (any depth) does not follow links to folders,
    which can loop back on themselves, and leaves out names beginning with "." (hidden), as a
    shell's "*" does."""
    if "**" not in pattern:
        return sorted(glob.glob(pattern))
    parts = Path(pattern).parts
    first = next(index for index, part in enumerate(parts) if GLOB_CHARACTERS & set(part))
    base = Path(*parts[:first])
    return sorted(str(path) for path in base.glob(str(Path(*parts[first:])))
                  if not any(part.startswith(".") for part in path.relative_to(base).parts))


def expand_folder(folder):
    """The folder's pictures, by name. Files whose name begins with "._" are left out: macOS
    writes them beside a file copied to a foreign disk, and they hold its metadata."""
    suffixes = digit_image.picture_suffixes()
    try:
        candidates = sorted(path for path in folder.iterdir() if path.suffix.lower() in suffixes
                            and not path.name.startswith("._"))
    except OSError as error:
        yield str(folder), f"cannot list the folder ({error.strerror})"
        return
    found = False
    for path in candidates:
        try:
            if not path.is_file():
                continue
        except OSError as error:  # a link into a folder that may not be entered
            yield str(path), f"cannot be read ({error.strerror})"
        else:
            yield str(path), None
        found = True
    if not found:
        yield str(folder), "folder holds no pictures"


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


def report(record, args):
    """Prints one picture's answer as a JSON line or a table row; a failure also on stderr."""
    # A name holding a line break would break its line in two.
    path = record["path"].replace("\n", "\\n").replace("\r", "\\r")
    if record["error"] is not None:
        print(f"{Path(sys.argv[0]).name}: {path}: {record['error']}", file=sys.stderr)
    if args.json:
        # ASCII with escapes: valid JSON whatever encoding the output has.
        print(json.dumps(record))
        return
    answer, confidence, runners_up, note = "-", "-", "", ""
    if record["error"] is not None:
        note = f"  (failed: {record['error']})"
    elif record["no_digit"] is not None:
        note = f"  ({record['no_digit']})"
    elif record["number"] is not None:
        answer, confidence = record["number"], f"{record['confidence']:.1%}"
        note = "  (uncertain)" if record["uncertain"] else ""
    else:
        answer, confidence = record["digit"], f"{record['confidence']:.1%}"
        runners_up = "".join(f"{top['digit']} ({top['probability']:.1%})".ljust(12)
                             for top in record["top"][1:])
    print(f"{answer:>{ANSWER_WIDTH}}  {confidence:>10}  {runners_up:<{runners_up_width(args)}}"
          f"{path}{note}")
    if record["number"] is not None:
        digits = ", ".join(f"{d['digit']} ({d['confidence']:.1%})" for d in record["digits"])
        print(f"{'':>{ANSWER_WIDTH}}  {'':>10}  {'':<{runners_up_width(args)}}digits: {digits}")


# Characters of the table's first column: a number of two lines of four digits (longer ones
# push the row's other columns right).
ANSWER_WIDTH = 14


def runners_up_width(args):
    """Characters of the table's runner-up column: 12 for each digit after the first."""
    return 12 * (args.top_k - 1)


def draw_panels(shown, path):
    """One row per picture: the picture, the 28x28 the model saw, and the probabilities."""
    import logging

    # Where it cannot write its cache (no writable home), matplotlib says so on stderr.
    logging.getLogger("matplotlib").setLevel(logging.ERROR)
    import matplotlib

    matplotlib.use("Agg")  # Files only; no window is opened.
    from matplotlib import pyplot as plt

    if not shown:
        print("--show: no pictures to draw", file=sys.stderr)
        return
    figure, axes = plt.subplots(
        len(shown),
        3,
        figsize=(9, 2.2 * len(shown)),
        squeeze=False,
        gridspec_kw={"width_ratios": [1, 1, 1.6]},
    )
    for (record, images), (picture_axis, seen_axis, bars_axis) in zip(shown, axes):
        name = Path(record["path"]).name
        picture_axis.set_title(name if len(name) <= 30 else name[:27] + "...", fontsize=9,
                               parse_math=False)  # "$12_$7.png" is a name, not a formula
        thumbnail = read_thumbnail(record["path"])
        if thumbnail is not None:
            picture_axis.imshow(thumbnail, cmap="gray")
        for axis in (picture_axis, seen_axis):
            axis.set_axis_off()
        if not images:  # not read, or no ink: only the reason
            reason = record["error"] or record["no_digit"]
            seen_axis.text(0, 0.5, reason, fontsize=8, wrap=True, parse_math=False,
                           color="tab:red" if record["error"] else "black")
            bars_axis.set_axis_off()
            continue
        seen_axis.imshow(np.hstack(images), cmap="gray", vmin=0, vmax=255)
        seen_axis.set_title("what the model saw", fontsize=9)
        if record["number"] is not None:
            confidences = ", ".join(f"{d['confidence']:.0%}" for d in record["digits"])
            bars_axis.text(0, 0.5, f"{record['number']}\n({confidences})", fontsize=12)
            bars_axis.set_axis_off()
            continue
        best = int(np.argmax(record["probabilities"]))
        colours = ["tab:blue"] * 10
        colours[best] = "tab:green" if record["digit"] is not None else "tab:gray"
        bars_axis.bar(range(10), record["probabilities"], color=colours)
        bars_axis.set_xticks(range(10))
        bars_axis.set_ylim(0, 1)
        title = (f"{record['digit']}: {record['confidence']:.1%}" if record["digit"] is not None
                 else f"no digit (best guess {best}: {record['probabilities'][best]:.0%})")
        bars_axis.set_title(title, fontsize=10)
    with warnings.catch_warnings():  # A long number's text may not fit its panel.
        warnings.simplefilter("ignore", UserWarning)
        figure.tight_layout()
    try:
        common.atomic_write(path, common.figure_writer(figure, SHOW_KIND.partition(":")[2],
                                                        dpi=80), SHOW_KIND)
    finally:
        plt.close(figure)
    print(f"wrote {path}", file=sys.stderr)


def read_thumbnail(path):
    """The picture as its user sees it, small; None when it cannot be read."""
    try:
        return digit_image.thumbnail(path, 160)
    except (digit_image.ImageError, MemoryError):
        return None  # The row shows the error message instead.


if __name__ == "__main__":
    sys.exit(common.run_cli(main))
