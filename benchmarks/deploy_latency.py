"""Times what a user of each model format waits for, and how fast each format reads digits.

For each model: the wall and CPU time of `python predict.py PICTURE --model MODEL` in a new
process (start-up, imports, loading the model, reading one picture; the median of --repeats
runs, after one untimed run that brings the files into the page cache), then, in this
process, images per second over the MNIST test split, in the batches model_files.load_classifier
uses, and the accuracy. Also the time to import the LiteRT runtime and TensorFlow, each in a
new process, and of `python predict.py PICTURE` with no --model: the model predict.py chooses
by default (model_files.model_to_serve: the float LiteRT export while it is the .keras file's).

Reads:  models/digit_cnn.keras and export.py's digit_cnn.tflite, digit_cnn_int8.tflite and
        digit_cnn.onnx (missing ones are reported and skipped), data/mnist.npz, the picture
Writes: reports/deploy_latency.json and a table on stdout

    python -m benchmarks.deploy_latency
    python -m benchmarks.deploy_latency --repeats 9 --picture examples/3_blue_pen.jpg
"""

import argparse
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
import common
import model_files

MODELS = [
    Path("models/digit_cnn.tflite"),
    Path("models/digit_cnn_int8.tflite"),
    Path("models/digit_cnn.onnx"),
    common.MODEL_PATH,
]
IMPORTS = {"LiteRT runtime": "ai_edge_litert.interpreter", "TensorFlow": "tensorflow"}


def parse_args(argv):
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--picture", type=Path, default=Path("examples/7_photo_sideways.jpg"))
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per measurement")
    parser.add_argument("--data", type=Path, default=common.DATA_PATH, help="dataset npz")
    parser.add_argument("--report", type=Path, default=common.REPORTS_DIR / "deploy_latency.json")
    common.add_debug_flag(parser)
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")
    if not args.picture.is_file():
        parser.error(f"--picture {args.picture} not found")
    return args


def run_seconds(command):
    """Wall and CPU seconds of one run of command in a new process; UserError if it fails.

    CPU time (user + system, of all its threads) barely changes when other programs share
    the machine, so it still compares formats when the wall time is inflated by them.
    """
    cpu_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    cpu_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (cpu_after.ru_utime - cpu_before.ru_utime) + (cpu_after.ru_stime - cpu_before.ru_stime)
    if result.returncode != 0:
        last_line = (result.stderr.strip().splitlines() or ["no message"])[-1]
        raise common.UserError(f"`{' '.join(map(str, command))}` failed: {last_line}")
    return wall, cpu, result.stdout


def timings(command, repeats):
    run_seconds(command)  # Untimed: brings the Python files, libraries and model into the cache.
    runs = [run_seconds(command) for _ in range(repeats)]
    wall = [run[0] for run in runs]
    summary = {
        "median": statistics.median(wall),
        "min": min(wall),
        "max": max(wall),
        "median_cpu": statistics.median(run[1] for run in runs),
    }
    return summary, runs[-1][2]


def import_seconds(module, repeats):
    code = f"import time; start = time.perf_counter(); import {module}; print(time.perf_counter() - start)"
    environment = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    seconds = []
    for _ in range(repeats + 1):  # The first run is untimed, as in timings().
        result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                env=environment, check=True)
        seconds.append(float(result.stdout))
    return statistics.median(seconds[1:])


def throughput(model, data):
    """Images per second and accuracy over the test split, with the model already loaded."""
    predict = model_files.load_classifier(model)
    images, labels = data["x_test"], data["y_test"]
    predict(images[:256])  # Warm-up: the first call builds the graph or allocates tensors.
    start = time.perf_counter()
    probabilities = predict(images)
    seconds = time.perf_counter() - start
    return len(images) / seconds, float((probabilities.argmax(axis=1) == labels).mean())


def main(argv=None):
    args = parse_args(argv)
    data = common.load_dataset(args.data)
    record = {
        "machine": {
            "cpus": os.cpu_count(),
            "processor": platform.processor() or platform.machine(),
            "python": platform.python_version(),
            "load_average_at_start": os.getloadavg()[0],
        },
        "picture": str(args.picture),
        "repeats": args.repeats,
        "imports": {name: import_seconds(module, args.repeats) for name, module in IMPORTS.items()},
        "models": {},
    }
    for model in MODELS:
        if not model.exists():
            print(f"Skipping {model}: not found", file=sys.stderr)
            continue
        command = [sys.executable, str(ROOT / "predict.py"), str(args.picture), "--model", str(model), "--json"]
        wall, output = timings(command, args.repeats)
        images_per_second, accuracy = throughput(model, data)
        record["models"][str(model)] = {
            "bytes": model.stat().st_size,
            "predict_py_seconds": wall,
            "answer": output.strip(),
            "test_images_per_second": images_per_second,
            "test_accuracy": accuracy,
        }

    # What a user who names no model waits for.
    command = [sys.executable, str(ROOT / "predict.py"), str(args.picture), "--json"]
    wall, output = timings(command, args.repeats)
    record["default"] = {"model": str(model_files.model_to_serve()), "predict_py_seconds": wall,
                         "answer": output.strip()}

    print(f"Machine: {record['machine']['cpus']} CPUs, load average "
          f"{record['machine']['load_average_at_start']:.2f} at start")
    for name, seconds in record["imports"].items():
        print(f"import {IMPORTS[name]:<27} {seconds:6.2f} s  ({name}, median of {args.repeats})")
    print(f"\n{'model':<30} {'bytes':>9}  {'predict.py one picture: wall (range), CPU s':>42}"
          f"  {'test images/s':>13}  {'accuracy':>8}")
    for model, result in record["models"].items():
        wall = result["predict_py_seconds"]
        spread = f"{wall['median']:.2f} ({wall['min']:.2f}-{wall['max']:.2f}), {wall['median_cpu']:.2f}"
        print(f"{model:<30} {result['bytes']:>9,}  {spread:>42}  "
              f"{result['test_images_per_second']:>13,.0f}  {100 * result['test_accuracy']:>7.2f}%")
    wall = record["default"]["predict_py_seconds"]
    spread = (f"{wall['median']:.2f} ({wall['min']:.2f}-{wall['max']:.2f}), "
              f"{wall['median_cpu']:.2f}")
    print(f"{'no --model':<30} {'':>9}  {spread:>42}  (answered with {record['default']['model']})")
    record["machine"]["load_average_at_end"] = os.getloadavg()[0]
    common.write_json(args.report, record)
    print(f"\nWrote {args.report}")
    return common.EXIT_OK


if __name__ == "__main__":
    sys.exit(common.run_cli(main))
