"""Measures read_many.py (Ray Data) against predict.py's reading processes, same pictures.

The pictures are MNIST test digits drawn as 112x112 PNG files (picture_speed.drawings). In
one process, alternately: predict.answer with a worker thread per core (predict.py's
default), and a read_many.py job on a Ray started once. Start-up is measured apart: Ray's own
(ray.init), a job of two pictures (what every job pays before its first answers: its workers
start and load the model), and the whole command on two pictures in a fresh process. The
jobs' pictures a second are given with the job's start-up and without it (the two-picture
job's time taken off). Ray runs its workers at a lower priority (nice 15) than the rest; on
a machine busy with other work that slows them, and RAY_worker_niceness=0 in the environment
runs them at predict.py's.

Reads:  ../shared/mnist (the test split), the model (predict.py's default)
Writes: runs/ray_speed/ (the PNG files, once, and the jobs' answers) and reports/ray_speed.json

    python -m benchmarks.ray_speed
    python -m benchmarks.ray_speed --count 10000 --repeats 5
    RAY_worker_niceness=0 python -m benchmarks.ray_speed
"""

import argparse
import contextlib
import io
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

import common
import model_files
import ray_reading
import read_many
import reading_pool
import recognize
from benchmarks import picture_speed, sets

ROOT = Path(__file__).resolve().parent.parent


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--count", type=int, default=5000, help="112x112 drawings to read")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each, medians reported")
    common.add_model_flag(parser)
    parser.add_argument("--mnist-dir", type=Path, default=sets.MNIST_DIR)
    parser.add_argument("--out", type=Path, default=Path("runs/ray_speed"))
    parser.add_argument("--report", type=Path, default=common.REPORTS_DIR / "ray_speed.json")
    common.add_debug_flag(parser)
    args = parser.parse_args(argv)
    if args.count < 2 or args.repeats < 1:
        parser.error("--count must be at least 2 and --repeats at least 1")
    args.model = model_files.named_or_default(args)
    return args


def job_seconds(paths, model, output):
    """The seconds read_many.py takes on paths, on the Ray this process started."""
    shutil.rmtree(output, ignore_errors=True)
    started = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        status = common.run_cli(read_many.main, [*map(str, paths), "--output", str(output),
                                                 "--model", str(model)])
    if status != common.EXIT_OK:
        raise common.UserError(f"read_many.py failed on {output}'s pictures (status {status})")
    return time.perf_counter() - started


def command_seconds(paths, model, output):
    """The seconds `python read_many.py` takes on paths in a fresh process: Python's start,
    the imports, Ray's start and stop, the job."""
    shutil.rmtree(output, ignore_errors=True)
    started = time.perf_counter()
    subprocess.run([sys.executable, str(ROOT / "read_many.py"), *map(str, paths), "--output",
                    str(output), "--model", str(model)], check=True, capture_output=True)
    return time.perf_counter() - started


def worker_cpu_ms(paths, model, scratch):
    """CPU milliseconds per picture of one read_many.py worker: its Reader on the pictures in
    this process, on one core as in a worker, which the machine's other load does not change
    (docs/scaling.md builds on it)."""
    (shard,) = read_many.plan([str(path) for path in paths], "", len(paths), scratch)
    reader = ray_reading.Reader(model.name, model_files.read_model_bytes(model), os.getcwd(),
                              recognize.Options())
    started = time.process_time()
    for batch in shard.table.to_batches(max_chunksize=256):
        reader({name: column.to_numpy(zero_copy_only=False)
                for name, column in zip(batch.schema.names, batch.columns)})
    return 1000 * (time.process_time() - started) / len(paths)


def main(argv=None):
    args = parse_args(argv)
    paths = picture_speed.drawings(args.out / "drawings", args.count, args.mnist_dir)
    classify = model_files.load_classifier(args.model)
    classify(np.zeros((256, 28, 28), np.uint8))  # Sets the model up: not timed.
    cores = reading_pool.cores()
    load_before = os.getloadavg()
    runs = {"predict": [], "ray_with_start_up": [], "ray": [], "job_start_up": [],
            "command_two_pictures": []}
    with ray_reading.ray_session(None, False, False) as (ray_start, _):
        for _ in range(args.repeats):  # Alternating, so that a busy moment hits all alike.
            rate, _ = picture_speed.files_per_second(paths, classify, cores)
            runs["predict"].append(rate)
            start_up = job_seconds(paths[:2], args.model, args.out / "answers_two")
            seconds = job_seconds(paths, args.model, args.out / "answers")
            runs["job_start_up"].append(start_up)
            runs["ray_with_start_up"].append(len(paths) / seconds)
            runs["ray"].append(len(paths) / (seconds - start_up))
            runs["command_two_pictures"].append(command_seconds(
                paths[:2], args.model, args.out / "answers_command"))
    cpu_ms = worker_cpu_ms(paths, args.model, args.out / "no_shards")
    medians = {name: statistics.median(values) for name, values in runs.items()}
    results = {
        "machine": f"{platform.machine()}, {cores} cores ({os.cpu_count()} in all)",
        "load_average_before_after": [round(load_before[0], 2), round(os.getloadavg()[0], 2)],
        "model": str(args.model), "pictures": len(paths), "repeats": args.repeats,
        "ray_worker_niceness": int(os.environ.get("RAY_worker_niceness", 15)),
        "ray_start_seconds": round(ray_start, 2),
        "pictures_per_second": {name: round(medians[name], 1)
                                for name in ("predict", "ray", "ray_with_start_up")},
        "ray_over_predict": round(medians["ray"] / medians["predict"], 2),
        "worker_cpu_ms_per_picture": round(cpu_ms, 3),
        "job_start_up_seconds": round(medians["job_start_up"], 2),
        "command_two_pictures_seconds": round(medians["command_two_pictures"], 2),
        "runs": {name: [round(value, 2) for value in values] for name, values in runs.items()},
    }
    print(f"{len(paths)} drawings of 112x112, pictures/s (median of {args.repeats}): "
          f"predict.py with {cores} reading processes {medians['predict']:.0f}; Ray Data with "
          f"{cores} "
          f"workers {medians['ray']:.0f} ({results['ray_over_predict']}x) without its job's "
          f"start-up, {medians['ray_with_start_up']:.0f} with it")
    print(f"one worker: {cpu_ms:.2f} ms of CPU a picture ({1000 / cpu_ms:.0f} pictures/s on "
          "a core of its own)")
    print(f"start-up: ray.init {ray_start:.1f} s, a job's workers {medians['job_start_up']:.1f} s,"
          f" the whole command on two pictures {medians['command_two_pictures']:.1f} s")
    common.write_json(args.report, results)
    print(f"wrote {args.report}")
    return common.EXIT_OK


if __name__ == "__main__":
    sys.exit(common.run_cli(main))
