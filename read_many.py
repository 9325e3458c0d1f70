"""Reads a large collection of pictures on Ray Data, with the answers predict.py gives.

Reads:  pictures named by files, folders and glob patterns (expanded as predict.py does),
        URIs (s3://, gs://, file://: read through pyarrow's file systems, as Ray Data reads)
        and .txt files listing such names one a line; the model (predict.py's default, or
        --model)
Writes: OUTPUT/part-NNNNN-DIGEST.jsonl, the records of --shard-size pictures each, in the
        order named, one a line as `predict.py --json` prints it; OUTPUT/summary.json
        (pictures, failures, pictures per second, seconds)

With no --address, Ray starts on this machine's cores and stops at the end; --address joins a
running Ray cluster, whose nodes must see the same paths (a shared file system) or read URIs.
Each worker loads the model once (the LiteRT export by default: no TensorFlow) and reads its
pictures through predict.py's own reader, in its batches. A picture that cannot be read is
recorded with the reason in "error" and the job goes on (exit status 1); a name on the command
line that gives no picture stops it before it starts (status 2). A shard is written whole (a
temporary file, renamed) and named by a digest of its pictures, the model and the reading, so
the same command run again skips the shards already written: an interrupted job goes on where
it stopped.

    python read_many.py scans/ --output answers/
    python read_many.py "forms/**/*.png" more_forms.txt --output answers/ --shard-size 5000
    python read_many.py uris.txt --output answers/ --address 10.0.0.5:6379
"""

import venv_check  # noqa: F401  Imported first: says how to run the script outside .venv.
import argparse
import dataclasses
import hashlib
import itertools
import json
import os
import re
import sys
import time
from pathlib import Path

import pyarrow

import common
import inputs
import model_files
import ray_reading
import recognize
import safe_files

SHARD_NAME = re.compile(r"part-\d{5,}-[0-9a-f]{12}\.jsonl")
SUMMARY_KIND = "record:read_many"
# predict.py --json writes "error" last: a line that ends so is a picture that was read.
READ_ENDING = b'"error": null}'
MAX_SHARD_SIZE = 10_000_000  # Pictures a shard: its names are held in memory at once.
FAILURES_SHOWN = 10
FAILURES_KEPT = 100  # The first failures the summary lists; the rest are only counted.


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("inputs", nargs="+", metavar="PICTURES",
                        help="picture files, folders, glob patterns, URIs, or .txt files "
                             "listing them one a line")
    parser.add_argument("--output", type=Path, required=True,
                        help="folder of the shards and summary.json")
    common.add_model_flag(parser, "a .tflite, .keras or .onnx file")
    parser.add_argument("--shard-size", type=int, default=10_000,
                        help="pictures per shard, the work a rerun can skip")
    parser.add_argument("--batch-size", type=int, default=256,
                        help="pictures per model call in a worker")
    parser.add_argument("--workers", type=int, default=argparse.SUPPRESS,
                        help="Ray workers, a core each (default: every core Ray has)")
    parser.add_argument("--address", default=argparse.SUPPRESS,
                        help="a running Ray cluster to join: HOST:PORT, ray://HOST:PORT or auto "
                             "(default: Ray on this machine's cores)")
    parser.add_argument("--progress", action="store_true", help="show Ray Data's progress bars")
    common.add_debug_flag(parser)
    args = parser.parse_intermixed_args(argv)
    args.workers = getattr(args, "workers", None)
    args.address = getattr(args, "address", None)
    if min(args.shard_size, args.batch_size, 1 if args.workers is None else args.workers) < 1:
        parser.error("--shard-size, --batch-size and --workers must be at least 1")
    common.check_batch_size(parser, args.batch_size)
    if args.shard_size > MAX_SHARD_SIZE:
        parser.error(f"--shard-size must be at most {MAX_SHARD_SIZE:,}")
    # Ray sends its command line to the workers as UTF-8, and stopped at a name that is not.
    for name in args.inputs:
        if any("\udc80" <= char <= "\udcff" for char in name):  # bytes kept as surrogates
            parser.error(f"{name.encode('utf-8', 'surrogateescape')!r}: a name that is not UTF-8 "
                         "cannot be given to Ray on the command line: list it in a .txt file, "
                         "one name a line, and name that file")
    return args


@dataclasses.dataclass
class Shard:
    index: int
    name: str
    count: int
    table: pyarrow.Table | None = None  # The pictures still to read, None when done.


def main(argv=None):
    args = parse_args(argv)
    started = time.perf_counter()
    model = model_files.named_or_default(args)
    if model_files.check_model_path(model) == "savedmodel":
        raise common.UserError(f"model {model}: read_many.py takes a model file (.tflite, "
                               ".keras or .onnx), not a SavedModel folder")
    # Loaded here first, so that a model that cannot be used is refused in one line before
    # Ray starts; the workers get its bytes with the job: a cluster's nodes need no copy.
    model_files.load_classifier(model)
    model_bytes = model_files.read_model_bytes(model)
    common.writable_folder(args.output)
    summary_path = args.output / "summary.json"
    common.check_outputs({summary_path: SUMMARY_KIND})
    # predict.py's reading (its defaults), this job's batch size.
    options = recognize.Options(batch_size=args.batch_size)
    job = json.dumps([hashlib.sha256(model_bytes).hexdigest(), options.mode,
                      options.min_confidence, options.top_k, os.getcwd()])
    shards = list(plan(args.inputs, job, args.shard_size, args.output))
    others = other_shards(args.output, {shard.name for shard in shards})
    if others:
        raise common.UserError(f"{args.output} holds {len(others)} shards of another job (other "
                               f"pictures, model or reading), such as {others[0]}: choose "
                               "another --output, or move them")

    pending = [shard for shard in shards if shard.table is not None]
    read = sum(shard.count for shard in pending)
    failures, first_failures, ray_start, speed, workers = 0, [], None, None, 0
    if pending:
        with ray_reading.ray_session(args.address, args.progress, args.debug) as (ray_start, cores):
            workers = args.workers or cores
            reading_started = time.perf_counter()
            failures, first_failures = read_pending(pending, model.name, model_bytes, options,
                                                    args, workers)
            # Ray's start is not counted; its workers' start (loading the model) is.
            speed = read / (time.perf_counter() - reading_started)
    failed = failures + sum(failed_in(args.output / shard.name)
                                 for shard in shards if shard.table is None)
    summary = {
        "pictures": sum(shard.count for shard in shards), "failures": failed,
        "shards": len(shards), "shards_skipped": len(shards) - len(pending),
        "read": read, "seconds": round(time.perf_counter() - started, 2),
        "ray_start_seconds": ray_start and round(ray_start, 2),
        "pictures_per_second": speed and round(speed, 1),
        "workers": workers, "address": args.address, "model": str(model),
        "shard_size": args.shard_size,
        "first_failures": [{"path": path, "error": error} for path, error in first_failures],
    }
    common.write_record(summary_path, "read_many", summary)
    report(summary, failures, first_failures, summary_path)
    return common.EXIT_SOME_FAILED if failed else common.EXIT_OK


def plan(inputs, job, shard_size, output):
    """The job's shards, in order: shard_size pictures each, named by their index and a
    digest of the job and their names; those whose file exists are done (no table)."""
    names = pictures(inputs)
    for index in itertools.count():
        chunk = list(itertools.islice(names, shard_size))
        if not chunk:
            return
        digest = hashlib.sha256(job.encode())
        for name, error in chunk:
            digest.update(os.fsencode(f"{name}\0{error}\n"))
        shard = Shard(index, f"part-{index:05d}-{digest.hexdigest()[:12]}.jsonl", len(chunk))
        if not os.path.lexists(output / shard.name):
            # Names as bytes: a file name need not be valid UTF-8, and Arrow strings must be.
            shard.table = pyarrow.table({
                "name": pyarrow.array([os.fsencode(name) for name, _ in chunk], pyarrow.binary()),
                "error": pyarrow.array([error for _, error in chunk], pyarrow.string()),
                "shard": pyarrow.array([index] * len(chunk), pyarrow.int64()),
                "position": pyarrow.array(range(len(chunk)), pyarrow.int64()),
            })
        yield shard


def pictures(names):
    """(name, error) for each picture the names hold, in order: files, folders and patterns
    as predict.py expands them, URIs as they are, and the names .txt files list, one a line.
    A name on the command line that gives no picture (not found, no match, a folder with no
    pictures) is a UserError: a mistyped name should not start a long job."""
    for name in names:
        if Path(name).suffix.lower() == ".txt" and os.path.isfile(name):
            yield from listed(name)
        else:
            found = named(name)
            path, error = next(found)
            if error is not None and path == name:
                raise common.UserError(f"{name}: {error}")
            yield path, error
            yield from found


def listed(list_file):
    """(name, error) for each picture a list file names, read a line at a time: a list of ten
    million paths is never held whole. A listed name that gives no picture is recorded with
    why, as predict.py records it."""
    try:
        file = safe_files.open_input(list_file)
    except safe_files.Refused as error:
        raise common.UserError(str(error)) from None
    with file:
        for line in file:
            name = os.fsdecode(line.rstrip(b"\r\n"))
            if name.strip():
                yield from named(name)


def named(name):
    """(name, error) for each picture one name gives: a URI as it is, else as predict.py
    expands a name."""
    return iter([(name, None)]) if ray_reading.URI.match(name) else inputs.expand([name])


def other_shards(folder, names):
    """The shard files in folder that this job would not write, by name."""
    with os.scandir(folder) as entries:
        return sorted(entry.name for entry in entries
                      if SHARD_NAME.fullmatch(entry.name) and entry.name not in names)


def failed_in(shard_path):
    """How many records of a finished shard are failures."""
    with open(shard_path, "rb") as file:
        return sum(not line.rstrip(b"\n").endswith(READ_ENDING) for line in file)


def read_pending(shards, model_name, model_bytes, options, args, workers):
    """Reads the shards' pictures on Ray Data and writes each shard as soon as all its
    records are in; returns how many pictures failed and the (path, error) of the first
    FAILURES_KEPT: a job of millions of failing pictures keeps no list of them all."""
    import ray

    # Blocks of one model batch each, so that every worker has work from the first shard.
    blocks = [pyarrow.Table.from_batches([batch]) for shard in shards
              for batch in shard.table.to_batches(max_chunksize=args.batch_size)]
    # from_blocks, not from_arrow: the tables are here, and from_arrow would send a Ray task
    # per block only to count its rows (39,000 tasks for ten million pictures).
    answers = ray.data.from_blocks(blocks).map_batches(
        ray_reading.Reader, batch_size=args.batch_size,
        fn_constructor_kwargs={"model_name": model_name, "model_bytes": model_bytes,
                               "folder": os.getcwd(), "options": options,
                               "debug": args.debug},
        compute=ray.data.ActorPoolStrategy(size=min(workers, len(blocks))), num_cpus=1)
    by_index = {shard.index: shard for shard in shards}
    waiting, failures, first = {}, 0, []
    try:
        for batch in answers.iter_batches(batch_size=None, batch_format="numpy"):
            for index, position, line, failed in zip(batch["shard"], batch["position"],
                                                     batch["record"], batch["failed"]):
                lines = waiting.setdefault(int(index), {})
                lines[int(position)] = line
                if failed:
                    failures += 1
                    if len(first) < FAILURES_KEPT:
                        record = json.loads(line)
                        first.append((record["path"], record["error"]))
                shard = by_index[int(index)]
                if len(lines) == shard.count:
                    write_shard(args.output / shard.name, [lines[i] for i in range(shard.count)])
                    del waiting[int(index)]
    except ray.exceptions.RayError as error:
        raise common.UserError(f"the job stopped: {ray_reading.worker_exception(error)}") from error
    return failures, first


def write_shard(path, lines):
    common.atomic_write(path, lambda tmp: Path(tmp).write_text("".join(
        line + "\n" for line in lines)))


def report(summary, failures, first_failures, summary_path):
    """The first of this run's failures on stderr, as predict.py says them, and the job in
    one line."""
    prog = Path(sys.argv[0]).name
    for path, error in first_failures[:FAILURES_SHOWN]:
        print(f"{prog}: {path}: {error}", file=sys.stderr)
    if failures > FAILURES_SHOWN:
        print(f"{prog}: ... and {failures - FAILURES_SHOWN} more failures: their records "
              'hold the reason in "error"', file=sys.stderr)
    speed = "nothing to read"
    if summary["read"]:
        speed = (f"{summary['read']:,} read in {summary['seconds']:.1f} s, "
                 f"{summary['pictures_per_second']:,.0f} pictures/s after Ray's start "
                 f"({summary['ray_start_seconds']:.1f} s)")
    print(f"{summary['pictures']:,} pictures in {summary['shards']} shards "
          f"({summary['shards_skipped']} done before), {summary['failures']:,} failed; "
          f"{speed}; wrote {summary_path}")


if __name__ == "__main__":
    sys.exit(common.run_cli(main))
