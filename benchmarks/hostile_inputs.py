"""Runs the reproductions of issue 29 ("Hostile inputs") against a checkout of this project
and measures how each ends: seconds, exit status, the last line printed, peak memory, and
whether anything was lost. Every run is bounded: it is stopped (SIGTERM, then SIGKILL 5 s
later) past --time-limit seconds, killed at once past --memory-limit MB of resident memory
(sampled every 20 ms), and may not map more than 16 GiB in any case, so that the code
before the fixes (19 GB in 25 s on /dev/zero) cannot exhaust the machine.

Reads:  a project checkout (--project, default this one; run it with another checkout's
        folder to measure that code), the real MNIST (--mnist), examples/ of the checkout
Writes: a table on stdout; --json FILE also writes every measurement

    python -m benchmarks.hostile_inputs --json reports/hostile_after.json
    python -m benchmarks.hostile_inputs --project ../before --json reports/hostile_before.json
    python -m benchmarks.hostile_inputs --only gzip-bomb-source trickle

Nothing here imports the project: it runs its scripts as a user would, in a temporary
folder, with local HTTP servers (no network) for the mirrors.
"""

import argparse
import contextlib
import hashlib
import http.server
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TF_NOISE = ("WARNING: All log messages", "I0000", "W0000", "E0000", "To enable the following")


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--project", type=Path, default=ROOT, help="the checkout to measure")
    parser.add_argument("--mnist", type=Path, default=ROOT.parent / "shared" / "mnist",
                        help="folder of the four real MNIST .gz files")
    parser.add_argument("--time-limit", type=float, default=40, help="seconds per run")
    parser.add_argument("--memory-limit", type=float, default=3000, help="MB of RSS per run")
    parser.add_argument("--only", nargs="+", help="run only these cases")
    parser.add_argument("--json", type=Path, help="also write the measurements here")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    return parser.parse_args(argv)


# Local HTTP servers: the mirrors of the reproductions.

class Mirror(http.server.BaseHTTPRequestHandler):
    """/ok/NAME serves the real file; other first parts name a way to misbehave."""

    def do_GET(self):
        fault, _, name = self.path.strip("/").partition("/")
        files = self.server.files
        if fault == "ok" and name in files:
            return self.reply(files[name])
        if fault == "bomb":
            return self.reply(self.server.bomb)
        if fault == "redirect-loop":
            self.send_response(301)
            self.send_header("Location", self.path)
            self.end_headers()
            return None
        if fault == "bad-length":
            self.send_response(200)
            self.send_header("Content-Length", "9,912,422")
            self.end_headers()
            self.wfile.write(files.get(name, b"x" * 100))
            return None
        if fault in ("trickle-large", "trickle"):
            # A byte a second, announcing 100 MB, or the real size (under every cap).
            size = 100_000_000 if fault == "trickle-large" else 9_912_422
            self.send_response(200)
            self.send_header("Content-Length", str(size))
            self.end_headers()
            with contextlib.suppress(OSError):
                for _ in range(size):
                    self.wfile.write(b"\x1f")
                    self.wfile.flush()
                    time.sleep(1)
            return None
        if fault == "endless":  # 20 MB/s for ever, no Content-Length.
            self.send_response(200)
            self.end_headers()
            block = bytes(1 << 20)
            with contextlib.suppress(OSError):
                while True:
                    self.wfile.write(block)
                    time.sleep(0.05)
        return self.send_error(404)

    def reply(self, body):
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        with contextlib.suppress(OSError):
            self.wfile.write(body)

    def log_message(self, format, *args):
        pass


@contextlib.contextmanager
def mirror_server(files, bomb):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Mirror)
    server.daemon_threads = True
    server.handle_error = lambda request, address: None  # A client that went away.
    server.files, server.bomb = files, bomb
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


def gzip_bomb(path, gib=4):
    """A gzip file of zeros: gib GiB inside, about 4 MB per GiB on disk."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    block = bytes(1 << 24)
    with open(path, "wb") as file:
        for _ in range(gib * 64):
            file.write(compressor.compress(block))
        file.write(compressor.flush())
    return path


# Running one reproduction.

def run(project, work, argv, time_limit, memory_limit, close=(), fsize=None, kill_when=None,
        env=None):
    """Runs python argv[0] argv[1:] from the project in work; returns its measurements.
    close: standard descriptors to close in the child (1, 2); fsize: RLIMIT_FSIZE in bytes;
    kill_when(): SIGKILL the run as soon as it returns true."""
    def prepare():
        os.setsid()
        # A backstop should this harness itself die: no run may map more than 16 GiB.
        resource.setrlimit(resource.RLIMIT_AS, (16 << 30, 16 << 30))
        for fd in close:
            os.close(fd)
        if fsize is not None:
            resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))

    environment = dict(os.environ, PYTHONPATH=str(project), **(env or {}))
    environment.pop("MNIST_MIRROR", None)
    stdout = open(work / ".stdout", "wb")  # noqa: SIM115
    stderr = open(work / ".stderr", "wb")  # noqa: SIM115
    start = time.perf_counter()
    process = subprocess.Popen([sys.executable, str(project / argv[0]), *map(str, argv[1:])],
                               cwd=work, env=environment, preexec_fn=prepare,
                               stdin=subprocess.DEVNULL,
                               stdout=None if 1 in close else stdout,
                               stderr=None if 2 in close else stderr)
    peak, stopped, status, usage = 0, None, None, None
    while status is None:
        pid, wait_status, usage = os.wait4(process.pid, os.WNOHANG)
        if pid:
            status = os.waitstatus_to_exitcode(wait_status)
            break
        peak = max(peak, rss_mb(process.pid))
        elapsed = time.perf_counter() - start
        if peak > memory_limit and not stopped:
            os.killpg(process.pid, signal.SIGKILL)
            stopped = f"killed at {peak:,.0f} MB (over the {memory_limit:,.0f} MB limit)"
        elif kill_when and not stopped and kill_when():
            os.killpg(process.pid, signal.SIGKILL)
            stopped = "killed with SIGKILL mid-write, as planned"
        elif elapsed > time_limit and not stopped:
            os.killpg(process.pid, signal.SIGTERM)
            stopped = f"still running at {time_limit:g} s: sent SIGTERM"
        elif stopped and stopped.endswith("SIGTERM") and elapsed > time_limit + 5:
            os.killpg(process.pid, signal.SIGKILL)
            stopped += ", ignored for 5 s: SIGKILL"
        time.sleep(0.002 if kill_when else 0.02)
    seconds = time.perf_counter() - start
    stdout.close()
    stderr.close()
    err = (work / ".stderr").read_text(errors="replace")
    lines = [line for line in err.splitlines() if line.strip() and not line.startswith(TF_NOISE)]
    out = (work / ".stdout").read_text(errors="replace")
    return {
        "seconds": round(seconds, 2),
        "status": status,
        "stopped": stopped,
        "peak_mb": round(max(peak, usage.ru_maxrss / 1024 if usage else 0)),
        "stderr": lines[:12],
        "said": said(lines, Path(argv[0]).name) or (out.strip().splitlines() or [""])[-1][:400],
        "traceback": "Traceback" in err,
        "stdout": out[-300:],
    }


def said(lines, script):
    """The script's message: its first line naming itself (with the next line when that one
    only introduces a list, as preprocess.py's "no source gave..." does), else the last."""
    for index, line in enumerate(lines):
        if line.startswith(f"{script}:"):
            if line.endswith(":") and index + 1 < len(lines):
                line += " " + lines[index + 1].strip()
            return line[:400]
    return lines[-1][:400] if lines else ""


def rss_mb(pid):
    """The resident memory of a process and its children, in MB (0 once it has ended)."""
    total = 0
    for task in [pid, *children(pid)]:
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{task}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) / 1024
    return total


def children(pid):
    with contextlib.suppress(OSError):
        return [int(child) for child in
                Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    return []


def digest(path):
    path = Path(path)
    if path.is_dir():
        return "folder"
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16] if path.is_file() else None


def hidden_leftovers(folder):
    return sorted(p.name for p in Path(folder).glob(".*") if p.name not in (".stdout", ".stderr")
                  and ".lock" not in p.name)


# The reproductions. Each takes the setting (work folder, paths, limits) and returns its
# measurements, with "kept" saying whether what must survive did.

CASES = {}


def case(name, description):
    def register(function):
        CASES[name] = (description, function)
        return function
    return register


@case("ordinary-preprocess", "preprocess.py --source the real MNIST (for comparison)")
def _(s):
    return s.run("preprocess.py", "--source", s.mnist, "--out", "fresh/mnist.npz")


@case("ordinary-predict", "predict.py --model models/quick.keras good.png (for comparison)")
def _(s):
    return s.run("predict.py", "--model", s.model, s.picture)


@case("model-dev-zero", "predict.py --model z.keras (a link to /dev/zero) good.png")
def _(s):
    (s.work / "z.keras").symlink_to("/dev/zero")
    return s.run("predict.py", "--model", "z.keras", s.picture)


@case("model-fifo", "predict.py --model f.tflite (a FIFO) good.png")
def _(s):
    os.mkfifo(s.work / "f.tflite")
    return s.run("predict.py", "--model", "f.tflite", s.picture)


@case("evaluate-model-dev-zero", "evaluate.py --model z.keras (a link to /dev/zero)")
def _(s):
    (s.work / "z.keras").symlink_to("/dev/zero")
    return s.run("evaluate.py", "--model", "z.keras", "--out", "reports/z")


@case("export-model-fifo", "export.py --model f.keras (a FIFO)")
def _(s):
    os.mkfifo(s.work / "f.keras")
    return s.run("export.py", "--model", "f.keras")


@case("source-fifo", "preprocess.py --source mnist.npz (a FIFO) --out fresh/mnist.npz")
def _(s):
    os.mkfifo(s.work / "mnist.npz")
    return s.run("preprocess.py", "--source", "mnist.npz", "--out", "fresh/mnist.npz")


@case("source-dev-zero", "preprocess.py --source z.npz (a link to /dev/zero)")
def _(s):
    (s.work / "z.npz").symlink_to("/dev/zero")
    return s.run("preprocess.py", "--source", "z.npz", "--out", "fresh/mnist.npz")


@case("data-fifo", "evaluate.py --data f.npz (a FIFO)")
def _(s):
    os.mkfifo(s.work / "f.npz")
    return s.run("evaluate.py", "--data", "f.npz", "--out", "reports/f")


@case("data-dev-zero", "train.py --quick --data z.npz (a link to /dev/zero)")
def _(s):
    (s.work / "z.npz").symlink_to("/dev/zero")
    return s.run("train.py", "--quick", "--data", "z.npz", "--out", "models/z.keras")


@case("gzip-bomb-source", "preprocess.py --source FOLDER whose train-images .gz is 4 MB of "
      "zeros (4 GiB inside)")
def _(s):
    folder = s.work / "bombed"
    folder.mkdir()
    for name in ("train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        shutil.copy(s.mnist / f"{name}.gz", folder)
    shutil.copy(s.bomb_path, folder / "train-images-idx3-ubyte.gz")
    return s.run("preprocess.py", "--source", folder, "--out", "fresh/mnist.npz")


@case("gzip-bomb-mirror", "preprocess.py --mirror http://.../bomb/ (every .gz the 4 MB bomb), "
      "then the other sources")
def _(s):
    return s.run("preprocess.py", "--mirror", f"{s.url}/bomb/", "--out", "fresh/mnist.npz")


@case("trickle-100mb", "preprocess.py --mirror: a server announcing 100 MB, a byte a second")
def _(s):
    return s.run("preprocess.py", "--mirror", f"{s.url}/trickle-large/", "--out",
                 "fresh/mnist.npz")


@case("trickle", "preprocess.py --mirror: a server announcing 9.9 MB, a byte a second "
      "(default --timeout 30)")
def _(s):
    return s.run("preprocess.py", "--mirror", f"{s.url}/trickle/", "--out", "fresh/mnist.npz",
                 time_limit=max(s.time_limit, 45))


@case("endless", "preprocess.py --mirror: a server streaming 20 MB/s for ever, no length")
def _(s):
    result = s.run("preprocess.py", "--mirror", f"{s.url}/endless/", "--out", "fresh/mnist.npz",
                   time_limit=min(s.time_limit, 10))
    result["disk_mb_at_end"] = round(sum(p.stat().st_size for p in (s.work / "fresh").rglob("*")
                                         if p.is_file()) / 1e6) if (s.work / "fresh").exists() \
        else 0
    return result


@case("bad-content-length", "preprocess.py --mirror: Content-Length: 9,912,422")
def _(s):
    return s.run("preprocess.py", "--mirror", f"{s.url}/bad-length/", "--out", "fresh/mnist.npz")


@case("redirect-loop", "preprocess.py --mirror: a 301 to itself")
def _(s):
    return s.run("preprocess.py", "--mirror", f"{s.url}/redirect-loop/", "--out",
                 "fresh/mnist.npz")


@case("show-over-input", "predict.py photo.png --show photo.png")
def _(s):
    shutil.copy(s.picture, s.work / "photo.png")
    before = digest(s.work / "photo.png")
    result = s.run("predict.py", "photo.png", "--show", "photo.png", "--model", s.model)
    result["kept"] = digest(s.work / "photo.png") == before
    return result


@case("train-over-dataset-record", "train.py --quick --out data/mnist.keras")
def _(s):
    before = digest(s.work / "data" / "mnist.json")
    result = s.run("train.py", "--quick", "--out", "data/mnist.keras")
    result["kept"] = digest(s.work / "data" / "mnist.json") == before
    return result


@case("train-over-export-record", "train.py --quick --out models/export.keras, with "
      "models/export.json an export record")
def _(s):
    record = s.work / "models" / "export.json"
    record.write_text(json.dumps({"source_model": "models/digit_cnn.keras", "artifacts": {
        "float": {"path": "models/digit_cnn.tflite"}}}, indent=2))
    before = digest(record)
    result = s.run("train.py", "--quick", "--out", "models/export.keras")
    result["kept"] = digest(record) == before
    return result


@case("same-stem-two-folders", "train.py --quick --out a/m.keras killed mid-run, then "
      "train.py --quick --out b/m.keras")
def _(s):
    def started():
        return any((run / "options.json").is_file() for run in (s.work / "runs").glob("m*"))

    s.run("train.py", "--quick", "--epochs", "3", "--out", "a/m.keras", kill_when=started)
    result = s.run("train.py", "--quick", "--out", "b/m.keras")
    runs = [json.loads((run / "options.json").read_text()).get("out")
            for run in (s.work / "runs").glob("m*") if (run / "options.json").is_file()]
    result["kept"] = "a/m.keras" in runs
    return result


@case("evaluate-disk-full", "evaluate.py with room for metrics.json and confusion_matrix.png "
      "but not misclassified.png (RLIMIT_FSIZE)")
def _(s):
    out = s.work / "reports" / "full"
    s.run("evaluate.py", "--model", s.model, "--out", out)  # the earlier set
    sizes = {p.name: p.stat().st_size for p in out.iterdir()}
    before = {name: digest(out / name) for name in sizes}
    limit = (sizes["confusion_matrix.png"] + sizes["misclassified.png"]) // 2
    result = s.run("evaluate.py", "--model", s.model, "--out", out, "--tta", fsize=limit)
    after = {name: digest(out / name) for name in sizes}
    changed = sorted(name for name in sizes if after[name] != before[name])
    result["changed"] = changed
    result["kept"] = changed == []  # A failed run must leave the whole earlier set.
    return result


@case("export-record-folder", "export.py when its record's path is a folder")
def _(s):
    (s.work / "models" / "quick_export.json").mkdir()
    exports = [s.work / "models" / name for name in ("quick.tflite", "quick_int8.tflite",
                                                     "quick_savedmodel")]
    result = s.run("export.py", "--model", s.model, time_limit=max(s.time_limit, 120))
    result["exports_written"] = [p.name for p in exports if p.exists()]
    result["kept"] = result["exports_written"] == []  # No export beside a stale record.
    return result


@case("kill-9-npz", "preprocess.py killed with SIGKILL while writing data/mnist.npz, then run "
      "again")
def _(s):
    data = s.work / "k"

    def writing():
        return any(data.glob(".mnist.*npz"))

    s.run("preprocess.py", "--source", s.mnist, "--out", data / "mnist.npz", kill_when=writing)
    left = hidden_leftovers(data)
    result = s.run("preprocess.py", "--source", s.mnist, "--out", data / "mnist.npz")
    result["leftovers_after_kill"] = left
    result["leftovers_after_rerun"] = hidden_leftovers(data)
    result["kept"] = bool(left) and result["leftovers_after_rerun"] == []
    return result


@case("kill-9-model", "train.py killed with SIGKILL while saving models/k.keras, then run "
      "again")
def _(s):
    models = s.work / "models"

    def saving():
        return any(models.glob(".k.*keras"))

    s.run("train.py", "--quick", "--out", "models/k.keras", kill_when=saving)
    left = hidden_leftovers(models)
    result = s.run("train.py", "--quick", "--out", "models/k.keras")
    result["leftovers_after_kill"] = left
    result["leftovers_after_rerun"] = hidden_leftovers(models)
    result["kept"] = bool(left) and result["leftovers_after_rerun"] == []
    return result


@case("stderr-closed", "predict.py good.png 2>&-")
def _(s):
    return s.run("predict.py", s.picture, "--model", s.model, close=(2,))


@case("stdout-closed", "predict.py good.png >&-")
def _(s):
    return s.run("predict.py", s.picture, "--model", s.model, close=(1,))


@case("dash-model", "predict.py --model - good.png")
def _(s):
    return s.run("predict.py", "--model", "-", s.picture)


@case("dash-picture", "predict.py - (standard input as a picture)")
def _(s):
    return s.run("predict.py", "-", "--model", s.model)


@case("link-loop-model", "predict.py --model loop.keras (a symbolic link loop) good.png")
def _(s):
    (s.work / "loop.keras").symlink_to("loop2.keras")
    (s.work / "loop2.keras").symlink_to("loop.keras")
    return s.run("predict.py", "--model", "loop.keras", s.picture)


@case("upper-case-suffix", "predict.py --model models/Q.KERAS good.png")
def _(s):
    shutil.copy(s.work / s.model, s.work / "models" / "Q.KERAS")
    return s.run("predict.py", "--model", "models/Q.KERAS", s.picture)


class Setting:
    def __init__(self, args, work, url, bomb_path):
        self.project, self.mnist, self.work = args.project.resolve(), args.mnist.resolve(), work
        self.time_limit, self.memory_limit = args.time_limit, args.memory_limit
        self.url, self.bomb_path = url, bomb_path
        self.picture = work / "good.png"
        self.model = Path("models/quick.keras")

    def run(self, *argv, time_limit=None, **options):
        return run(self.project, self.work, argv, time_limit or self.time_limit,
                   self.memory_limit, **options)


def main(argv=None):
    args = parse_args(argv)
    names = args.only or list(CASES)
    unknown = set(names) - set(CASES)
    if unknown:
        sys.exit(f"unknown cases: {', '.join(sorted(unknown))}; known: {', '.join(CASES)}")
    root = Path(tempfile.mkdtemp(prefix="hostile_"))
    bomb_path = gzip_bomb(root / "bomb.gz")
    files = {path.name: path.read_bytes() for path in args.mnist.glob("*.gz")}
    results = {}
    try:
        with mirror_server(files, bomb_path.read_bytes()) as url:
            base = root / "base"
            base.mkdir()
            setting = Setting(args, base, url, bomb_path)
            prepared = setting.run("preprocess.py", "--source", setting.mnist, time_limit=120)
            assert prepared["status"] == 0, prepared
            trained = setting.run("train.py", "--quick", time_limit=300)
            assert trained["status"] == 0, trained
            shutil.copy(args.project / "examples" / "6_white_on_black.png", base / "good.png")
            for name in names:
                work = root / name
                shutil.copytree(base, work, symlinks=True)
                setting.work, setting.picture = work, work / "good.png"
                description, function = CASES[name]
                print(f"{name}: {description}", file=sys.stderr, flush=True)
                result = function(setting)
                result["case"], result["description"] = name, description
                results[name] = result
                print(f"  {result['seconds']} s, status {result['status']}, "
                      f"{result['peak_mb']} MB, {result['stopped'] or ''} {result['said']}",
                      file=sys.stderr, flush=True)
                if not args.keep:
                    shutil.rmtree(work, ignore_errors=True)
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    print("| case | s | status | peak MB | kept | what it said |")
    print("|---|---:|---:|---:|---|---|")
    for result in results.values():
        status = result["stopped"] or result["status"]
        print(f"| {result['case']} | {result['seconds']} | {status} | {result['peak_mb']} | "
              f"{result.get('kept', '')} | {result['said']} |")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"project": str(args.project.resolve()),
                                         "results": results}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
