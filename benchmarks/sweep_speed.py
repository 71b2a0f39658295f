"""The sweep's or the search's wall time with Kedro's SequentialRunner against the Dask runner, in one go.

Both run the same `kedro run --pipelines=sweep` (same configurations, same data, the cache
made beforehand and not timed) in one throw-away copy of the project, one after the other:

    python benchmarks/sweep_speed.py --images-per-class 6 --epochs 1 --seeds 0 1 --workers 2
    python benchmarks/sweep_speed.py --pipeline search --trials 8 --images-per-class 40 --epochs 2 --workers 2

For the search, each runner gets a study of its own with --trials trials, no pruning, and a space
of lr and dropout only, so every trial does the same work (batch size and augmentation stay the
recipe's); --workers is also the search's number of trial-running nodes.

The data is a generated zip in trainPart1.zip's layout (62 classes, --images-per-class each);
the model is the seed's, full size. Run by hand, never by tests.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def kedro(project: Path, *arguments: str) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "kedro", "run", *arguments], cwd=project, check=True,
                   env={**os.environ, "KEDRO_DISABLE_TELEMETRY": "1"}, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images-per-class", type=int, default=6)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--pipeline", choices=["sweep", "search"], default="sweep")
    parser.add_argument("--trials", type=int, default=8, help="the search's trials, for each runner")
    args = parser.parse_args()

    from playing_with_mnist.demo.characters import write_demo_zip

    with tempfile.TemporaryDirectory() as folder:
        project = Path(folder) / "project"
        shutil.copytree(PROJECT_ROOT / "conf", project / "conf", ignore=shutil.ignore_patterns("local"))
        (project / "conf/local").mkdir()
        shutil.copytree(PROJECT_ROOT / "src", project / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        for name in ("pyproject.toml", ".telemetry"):
            shutil.copy2(PROJECT_ROOT / name, project / name)
        text = (project / "conf/base/parameters_sweep.yml").read_text()
        text = text.replace("seeds: [0, 1, 2]", f"seeds: [{', '.join(map(str, args.seeds))}]")
        (project / "conf/base/parameters_sweep.yml").write_text(text)
        search_file = project / "conf/base/parameters_search.yml"
        search = yaml.safe_load(search_file.read_text())
        search["search"].update(n_trials=args.trials, workers=args.workers, pruner={"class": "NopPruner"},
                                space={key: search["search"]["space"][key] for key in ("lr", "dropout")})
        search_file.write_text(yaml.safe_dump(search))
        data = write_demo_zip(Path(folder) / "bench.zip", seed=0, images_per_class=args.images_per_class, image_size=(240, 180))
        params = f"raw_zip={data},train.epochs={args.epochs},tracking.enabled=false"
        kedro(project, "--pipelines=preprocess", f"--params={params}")
        study = {"sweep": ("", ""), "search": (",search.study_name=sequential", ",search.study_name=dask")}[args.pipeline]
        sequential = kedro(project, f"--pipelines={args.pipeline}", f"--params={params}{study[0]}")
        dask = kedro(project, f"--pipelines={args.pipeline}", "--runner=playing_with_mnist.runner.DaskRunner",
                     f"--runner-params=n_workers={args.workers}", f"--params={params}{study[1]}")
    trainings = 2 * len(args.seeds) if args.pipeline == "sweep" else args.trials
    print(f"{args.pipeline}: {trainings} trainings ({args.epochs} epoch(s), {62 * args.images_per_class} images), "
          f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores")
    print(f"SequentialRunner: {sequential:.1f} s; DaskRunner ({args.workers} workers): {dask:.1f} s; "
          f"speed-up {sequential / dask:.2f}x")


if __name__ == "__main__":
    main()
