"""Requests per second and latency of MLflow's scoring server serving the registered model, by hand:

    python benchmarks/serving.py --project . --images emnist62_dev_test.zip [--version N] [--seconds 30]

Starts ``playing-with-mnist serve`` on a free port of 127.0.0.1 in ``--project`` (whose ``mlflow.db`` holds the
model), then for each batch size (1 and 64 images per request) sends requests one after another for ``--seconds``
(after a warm-up) from one client: the server's own throughput, not a load test. Images are PNGs of ``--images``
(any zip or folder of images), base64-encoded as a client would send them. Prints one JSON line per batch size:
requests/s, images/s, p50 and p95 latency in ms; name the CPU beside the numbers.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import platform
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def request_body(images: list[bytes], batch: int) -> bytes:
    rows = [[base64.b64encode(images[i % len(images)]).decode()] for i in range(batch)]
    return json.dumps({"dataframe_split": {"columns": ["image"], "data": rows}}).encode()


def post(port: int, body: bytes) -> float:
    """Seconds one request takes, answer read."""
    request = urllib.request.Request(f"http://127.0.0.1:{port}/invocations", body, {"Content-Type": "application/json"})
    start = time.perf_counter()
    with urllib.request.urlopen(request, timeout=300) as response:
        answer = json.loads(response.read())
    elapsed = time.perf_counter() - start
    errors = [row["error"] for row in answer["predictions"] if row["error"]]
    assert not errors, errors[:3]
    return elapsed


def latency_summary(latencies: list[float], batch: int) -> dict[str, float]:
    """Requests/s and images/s (from the mean latency: one client, one request at a time), p50 and p95 in ms."""
    seconds = np.asarray(latencies)
    return {"batch": batch, "requests": len(seconds), "requests_per_s": round(1 / seconds.mean(), 2),
            "images_per_s": round(batch / seconds.mean(), 1), "p50_ms": round(float(np.percentile(seconds, 50)) * 1000, 1),
            "p95_ms": round(float(np.percentile(seconds, 95)) * 1000, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--project", type=Path, default=Path.cwd(), help="the project folder whose mlflow.db holds the model")
    parser.add_argument("--images", type=Path, required=True, help="a zip or folder of images to send")
    parser.add_argument("--version", type=int, help="the registered version (default: the newest)")
    parser.add_argument("--seconds", type=float, default=30.0, help="measured time per batch size")
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 64])
    args = parser.parse_args()
    from playing_with_mnist.ingest.archive import ImageSource

    source = ImageSource.from_path(args.images)
    with source.open() as handle:
        images = [source.read(handle, name) for name in source.names[:256]]
    port = free_port()
    command = [sys.executable, "-m", "playing_with_mnist", "serve", "--port", str(port)] + (["--version", str(args.version)] if args.version else [])
    server = subprocess.Popen(command, cwd=args.project, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 300
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=2).close()
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    sys.exit(f"the server did not start (exit code {server.poll()}): run `playing-with-mnist serve` in {args.project} to see why")
                time.sleep(0.5)
        print(json.dumps({"cpu": platform.processor() or platform.machine(), "threads": os.cpu_count(), "images": str(args.images)}))
        for batch in args.batches:
            body = request_body(images, batch)
            for _ in range(3):  # warm-up: the first requests build the network and oneDNN's kernels
                post(port, body)
            latencies, stop = [], time.monotonic() + args.seconds
            while time.monotonic() < stop or len(latencies) < 5:
                latencies.append(post(port, body))
            print(json.dumps(latency_summary(latencies, batch)), flush=True)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(30)


if __name__ == "__main__":
    main()
