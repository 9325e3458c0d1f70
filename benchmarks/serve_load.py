"""Loads serve.py's API with concurrent clients and compares it with predict.py's batches.

Starts serve.py in a child process on a free port of the loopback, with the model predict.py
answers with by default (or --model). --clients threads, each on its own kept-alive
connection, post MNIST test digits drawn as 112x112 PNG files (benchmarks/picture_speed.py's
drawings, the pad's common case) to POST /api/predict for --seconds, one after the other.
Reported: answers a second, p50 and p99 latency, errors (any answer but 200, any failed
connection), answers that differ from predict.py's for the same file, the server's resident
memory before (model loaded, one picture answered) and after, and the machine's load average
(other work slows both sides). In the same run, before and after the load, predict.py's
batch throughput on the same files (predict.answer, as picture_speed.py measures it).
Goal: no error, and at least half predict.py's throughput.

Reads:  ../shared/mnist (the test split), the model
Writes: runs/picture_speed/ (the PNG files, once), runs/serve_load/server.log and
        reports/serve_load.json; a table on stdout

    python -m benchmarks.serve_load
    python -m benchmarks.serve_load --clients 32 --seconds 60
"""

import argparse
import http.client
import json
import os
import platform
import socket
import sys
import threading
import time
import urllib.parse
from pathlib import Path

import numpy as np

import common
import model_files
import reading_pool
import serve
from benchmarks import picture_speed, sets

BOUNDARY = "serve-load-boundary"


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--clients", type=int, default=16, help="requests in flight at once")
    parser.add_argument("--seconds", type=float, default=30, help="how long the load lasts")
    parser.add_argument("--count", type=int, default=1000, help="112x112 drawings posted in turn")
    common.add_model_flag(parser)
    parser.add_argument("--mnist-dir", type=Path, default=sets.MNIST_DIR)
    parser.add_argument("--out", type=Path, default=Path("runs/picture_speed"),
                        help="folder of the drawings, shared with picture_speed.py")
    parser.add_argument("--log", type=Path, default=Path("runs/serve_load/server.log"))
    parser.add_argument("--report", type=Path, default=common.REPORTS_DIR / "serve_load.json")
    common.add_debug_flag(parser)
    args = parser.parse_args(argv)
    if args.clients < 1 or args.count < 1 or args.seconds <= 0:
        parser.error("--clients, --count and --seconds must be positive")
    return args


def form(path):
    """The multipart/form-data body that posts the file at path as the field "image"."""
    head = (f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="image"; '
            f'filename="{path.name}"\r\nContent-Type: image/png\r\n\r\n').encode()
    return head + path.read_bytes() + f"\r\n--{BOUNDARY}--\r\n".encode()


def load(url, bodies, clients, seconds):
    """Posts the bodies in turn from clients threads for seconds: a list of (latency in
    seconds, status or the failure's name, answer record or None), one per request."""
    names = list(bodies)
    results, lock = [], threading.Lock()
    deadline = time.perf_counter() + seconds

    def client(first):
        connection = connect(url)
        index = first
        while time.perf_counter() < deadline:
            name = names[index % len(names)]
            index += clients
            started = time.perf_counter()
            status, record = post(connection, bodies[name])
            with lock:
                results.append((time.perf_counter() - started, status, record))
        connection.close()

    threads = [threading.Thread(target=client, args=(first,)) for first in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def connect(url):
    """A connection to url's server that sends each request at once, as browsers do: without
    TCP_NODELAY a body sent after its headers waits for their delayed acknowledgement."""
    address = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=60)
    connection.connect()
    connection.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return connection


def post(connection, body):
    """(status, answer record) of one POST /api/predict, or (the failure's name, None)."""
    try:
        connection.request("POST", "/api/predict", body,
                           {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"})
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    except (OSError, http.client.HTTPException, ValueError) as error:
        connection.close()  # The next request opens a new connection.
        return type(error).__name__, None


def resident_mib(pid):
    """A process's resident memory (VmRSS), in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return None


def predict_rate(paths, classify):
    """predict.py's files a second on paths, and its record for each file by name."""
    records, seconds = sets.read_with_pipeline(paths, classify)
    return len(paths) / seconds, {Path(record["path"]).name: record for record in records}


def answer_of(record):
    return record["digit"], record["number"], record["no_digit"] is not None


def main(argv=None):
    args = parse_args(argv)
    model = model_files.named_or_default(args)
    model_files.check_model_path(model)
    paths = picture_speed.drawings(args.out, args.count, args.mnist_dir)
    bodies = {path.name: form(path) for path in paths}
    load_before = os.getloadavg()[0]  # Other work on the machine slows both sides alike.
    classify = model_files.load_classifier(model)
    classify(np.zeros((256, 28, 28), np.uint8))  # The first call sets the model up: not timed.
    before_rate, expected = predict_rate(paths, classify)
    args.log.parent.mkdir(parents=True, exist_ok=True)
    with serve.spawned(model, args.log) as (process, url):
        status, _ = post(connect(url), bodies[paths[0].name])  # The server is warm.
        if status != 200:
            raise common.UserError(f"serve.py answered {status}: see {args.log}")
        memory_before = resident_mib(process.pid)
        started = time.perf_counter()
        results = load(url, bodies, args.clients, args.seconds)
        elapsed = time.perf_counter() - started
        memory_after = resident_mib(process.pid)
    after_rate, _ = predict_rate(paths, classify)
    load_after = os.getloadavg()[0]
    answered = [(latency, record) for latency, status, record in results if status == 200]
    latencies = sorted(latency for latency, _ in answered)
    differ = sum(answer_of(record) != answer_of(expected[record["path"]])
                 for _, record in answered)
    predict_files_per_second = (before_rate + after_rate) / 2
    report = {
        "model": str(model), "clients": args.clients, "seconds": round(elapsed, 1),
        "pictures": len(paths), "machine": f"{platform.machine()}, {reading_pool.cores()} cores",
        "requests": len(results), "answers": len(answered),
        "errors": len(results) - len(answered),
        "error_kinds": sorted({str(status) for _, status, _ in results if status != 200}),
        "differ_from_predict": differ,
        "answers_per_second": round(len(answered) / elapsed, 1),
        "latency_ms": {name: round(1000 * latencies[int(share * (len(latencies) - 1))], 1)
                       if latencies else None
                       for name, share in (("p50", 0.5), ("p99", 0.99), ("max", 1))},
        "server_rss_mib": {"before": memory_before, "after": memory_after},
        "load_average": {"before": round(load_before, 1), "after": round(load_after, 1)},
        "predict_files_per_second": {"before": round(before_rate, 1),
                                     "after": round(after_rate, 1),
                                     "mean": round(predict_files_per_second, 1)},
    }
    report["share_of_predict"] = round(report["answers_per_second"] / predict_files_per_second, 2)
    report["goal_met"] = report["errors"] == 0 and report["share_of_predict"] >= 0.5
    common.write_json(args.report, report)
    print_table(report)
    print(f"wrote {args.report}")
    return common.EXIT_OK


def print_table(report):
    latency, memory, rates = report["latency_ms"], report["server_rss_mib"], \
        report["predict_files_per_second"]
    rows = [
        ("clients", report["clients"]),
        ("seconds", report["seconds"]),
        ("answers (200)", report["answers"]),
        ("errors", f"{report['errors']} {', '.join(report['error_kinds'])}".strip()),
        ("answers unlike predict.py's", report["differ_from_predict"]),
        ("answers/s", report["answers_per_second"]),
        ("latency p50 / p99 / max (ms)", f"{latency['p50']} / {latency['p99']} / {latency['max']}"),
        ("server RSS before / after (MiB)", f"{memory['before']} / {memory['after']}"),
        ("predict.py files/s before / after", f"{rates['before']} / {rates['after']}"),
        ("machine's load average before / after", " / ".join(
            str(report["load_average"][when]) for when in ("before", "after"))),
        ("serving / predict.py", f"{report['share_of_predict']:.2f} (goal: at least 0.5 and "
                                 f"no error; {'met' if report['goal_met'] else 'NOT met'})"),
    ]
    print(f"| measure ({Path(report['model']).name}) | value |\n|---|---|")
    for name, value in rows:
        print(f"| {name} | {value} |")


if __name__ == "__main__":
    sys.exit(common.run_cli(main))
