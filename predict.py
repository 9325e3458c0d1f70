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
with a digit under --min-confidence, given only with --multi); "no_digit" (why there is no digit, or null) and
"error" (why the picture could not be read, or null).

    python predict.py examples/
    python predict.py "scans/*.jpg" --json --top-k 3
    python predict.py examples/2024.png --multi --show what_the_model_saw.png
    python predict.py examples/7_photo_sideways.jpg --model models/digit_cnn.tflite
"""

import venv_check  # noqa: F401  Imported first: says how to run the script outside .venv.
import argparse
import itertools
import json
import sys
from pathlib import Path


import common
import inputs
import model_files
import panels
import reading_pool
import recognize

# Runs shorter than this are read in this process: starting reading processes costs about
# 0.3 s (each imports NumPy, OpenCV and Pillow), more than reading 64 small drawings takes.
PROCESS_START = 64
# Characters of the table's first column: a number of two lines of four digits (longer ones
# push the row's other columns right).
ANSWER_WIDTH = 14


def parse_args(argv):
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument(
        "inputs", nargs="+", metavar="PICTURE", help="picture files, folders or glob patterns"
    )
    common.add_model_flag(parser, "a .keras, .tflite or .onnx file or SavedModel folder, as "
                                  "export.py writes them")
    reading = parser.add_mutually_exclusive_group()
    reading.add_argument("--multi", action="store_true",
                         help='read every picture as a number, such as "2024" (by default a '
                              "picture is read as a number when it holds several digits)")
    reading.add_argument("--single", action="store_true",
                         help="read every picture as one digit, all its marks together")
    parser.add_argument("--json", action="store_true", help="print one JSON object per picture")
    parser.add_argument("--top-k", type=int, default=recognize.Options.top_k,
                        help="most likely digits to list (1-10)")
    parser.add_argument(
        "--min-confidence",
        type=float,
        default=recognize.Options.min_confidence,
        help="a digit less probable than this is not given (no digit); with --multi, it is "
             "marked uncertain in the number",
    )
    parser.add_argument("--show", type=Path, help="also draw what the model saw into this PNG")
    parser.add_argument("--batch-size", type=int, default=recognize.Options.batch_size,
                        help="pictures per model call")
    parser.add_argument("--workers", type=int, default=reading_pool.cores(),
                        help="processes reading pictures side by side (at most this machine's "
                             "cores, the default)")
    common.add_tta_flag(parser)
    common.add_debug_flag(parser)
    args = parser.parse_intermixed_args(argv)  # Options may come between the pictures.
    args.mode = "number" if args.multi else "digit" if args.single else "auto"
    if not 1 <= args.top_k <= common.NUM_CLASSES:
        parser.error(f"--top-k must be between 1 and {common.NUM_CLASSES}")
    if not 0 <= args.min_confidence <= 1:
        parser.error("--min-confidence must be between 0 and 1")
    if args.batch_size < 1 or args.workers < 1:
        parser.error("--batch-size and --workers must be at least 1")
    common.check_batch_size(parser, args.batch_size)
    # Reading a picture keeps a core busy: more processes than cores only share them.
    args.workers = min(args.workers, reading_pool.cores())
    if args.show and args.show.suffix.lower() not in panels.SUFFIXES:
        parser.error(f"--show must name a {', '.join(panels.SUFFIXES)} file")
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
        picture = inputs.input_holding(args.show, args.inputs)
        if picture is not None:
            raise common.UserError(f"--show {args.show} is one of the pictures read ({picture}):"
                                   " choose another name for the panel")
    model = model_files.named_or_default(args)
    if args.show:
        common.check_outputs({args.show: panels.KIND}, inputs=[model])
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
        if args.show and len(shown) < panels.LIMIT:
            shown.append((record, images))
    if args.show:
        panels.draw(shown, args.show)
        if answered > panels.LIMIT:
            print(f"--show drew the first {panels.LIMIT} of {answered} pictures", file=sys.stderr)
    return common.EXIT_SOME_FAILED if any_failed else common.EXIT_OK


def answer(names, classify, args):
    """Yields (record, 28x28 images) for each picture the inputs name, in order.

    With --workers above 1 and more than a few pictures, they are read by that many processes
    side by side (reading is mostly Python, which threads could not run at once), and
    classified here in batches of args.batch_size. Everything is a generator and reading runs
    at most a few batches ahead of the answers, so a million paths never become a million
    pictures in memory.
    """
    named = inputs.expand(names)
    first = list(itertools.islice(named, PROCESS_START))
    named = itertools.chain(first, named)
    if args.workers > 1 and len(first) == PROCESS_START:
        readings = reading_pool.read_in_processes(named, args.workers, 2 * args.batch_size,
                                                  args.debug)
    else:
        readings = (reading_pool.read_picture(path, error, args.debug) for path, error in named)
    yield from recognize.classified(readings, classify, args)


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


def runners_up_width(args):
    """Characters of the table's runner-up column: 12 for each digit after the first."""
    return 12 * (args.top_k - 1)


if __name__ == "__main__":
    sys.exit(common.run_cli(main))
