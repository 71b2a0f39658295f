"""The seed's recipe against the tuned one, over several seeds: the README's "Recipes" table.

Each run is a real ``kedro run`` (``--env=tuned`` for the tuned recipe) in its own copy of the
project, followed by ``kedro run --pipelines=evaluate`` when a test zip is given. One row per
run is appended to the CSV as soon as the run ends (an interrupted benchmark keeps what it
measured); the summary (mean, standard deviation, min-max) is printed at the end.

    # the demo set (no zip given): validation accuracy
    python benchmarks/recipes.py --recipes seed tuned --seeds 0 1 2 --out recipes_demo.csv
    # real handwriting in trainPart1.zip's layout, scored on a test zip
    python benchmarks/recipes.py --train-zip emnist62_dev_train.zip --test-zip emnist62_dev_test.zip \\
        --recipes tuned --seeds 0 1 2 --out recipes_real.csv
    # a quick look: --epochs 10 overrides the recipe's epochs
    # a change to a recipe, measured beside it: --params train.augment.erase=0.25 (its rows are
    # named "tuned+train.augment.erase=0.25", its project copies likewise)
    # a run stopped part-way (a closed laptop, a session's end): the same command with --resume
    # continues it from its last epoch's checkpoint instead of starting over
    # Task 2's digits model (the digit classes of the training zip, the recipe's train settings):
    python benchmarks/recipes.py --task digits --recipes tuned --seeds 0 1 2 --out recipes_digits.csv

Times: ``training_seconds`` sums the training epochs (a resumed run's earlier sittings
included); ``wall_seconds`` is the last ``kedro run`` alone, preprocessing and reports included.

Run by hand, never by tests; a 50-epoch seed run takes 20 minutes to hours on a CPU.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
RECIPES = {"seed": None, "tuned": "tuned"}  # recipe -> Kedro environment (None: conf/base alone)
COLUMNS = [
    "recipe", "seed", "epochs", "data", "val_accuracy", "val_accuracy_case_folded", "max_val_accuracy",
    "test_accuracy", "test_accuracy_case_folded", "training_seconds", "wall_seconds", "device", "precision", "cpu",
]


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def project_copy(folder: Path, keep: bool = False) -> Path:
    """Configuration, code and empty data folders: each run is on its own, and edits made while
    the benchmark runs do not reach it. ``keep``: an existing copy stays as it is (its code,
    data and checkpoints), so that its run can continue."""
    if keep and (folder / "conf").is_dir():
        return folder
    if folder.exists():
        shutil.rmtree(folder)
    shutil.copytree(PROJECT_ROOT / "conf", folder / "conf", ignore=shutil.ignore_patterns("local"))
    shutil.copytree(PROJECT_ROOT / "src", folder / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    (folder / "conf" / "local").mkdir()
    for name in ("pyproject.toml", ".telemetry"):
        shutil.copy2(PROJECT_ROOT / name, folder / name)
    for sub in sorted((PROJECT_ROOT / "data").iterdir()):
        if sub.is_dir():
            (folder / "data" / sub.name).mkdir(parents=True)
    return folder


def kedro(project: Path, env: str | None, pipelines: str | None, params: dict[str, object], log: Path,
          to_outputs: str | None = None) -> None:
    command = [sys.executable, "-m", "kedro", "run", "--params=" + ",".join(f"{k}={v}" for k, v in params.items())]
    if env:
        command.append(f"--env={env}")
    if pipelines:
        command.append(f"--pipelines={pipelines}")
    if to_outputs:
        command.append(f"--to-outputs={to_outputs}")
    # The copy's own code first (kedro puts the project's src on the path too, after site-packages' editable install).
    environment = {**os.environ, "KEDRO_DISABLE_TELEMETRY": "1", "MPLBACKEND": "Agg", "PYTHONPATH": str(project / "src")}
    with log.open("a") as out:
        out.write(f"$ {' '.join(command)}\n")
        out.flush()
        result = subprocess.run(command, cwd=project, env=environment, stdout=out, stderr=subprocess.STDOUT)
    if result.returncode != 0:
        raise SystemExit(f"kedro failed (exit {result.returncode}); see {log}")


def latest_version(project: Path, path: str, folder: str = "data/08_reporting") -> Path:
    """The newest version of a versioned dataset, ``path`` relative to ``folder``."""
    versions = sorted((project / folder / path).iterdir())
    return versions[-1] / Path(path).name


def latest_json(project: Path, name: str) -> dict:
    return json.loads(latest_version(project, name).read_text())


def digits_metrics(project: Path) -> dict[str, object]:
    """Task 2's digits run (it writes no metrics.json): last and best validation from its history,
    device and precision from the saved model's record of its run."""
    import torch  # only here: Task 1's rows need no torch in this process

    with latest_version(project, "mnist_transfer/digits_history.csv").open(newline="") as history:
        epochs = list(csv.DictReader(history))
    val = [float(epoch["val_accuracy"]) for epoch in epochs]
    saved = torch.load(latest_version(project, "mnist_transfer/digits_model.pt", folder="data/06_models"),
                       map_location="cpu", weights_only=True)
    return {"epochs": len(epochs), "val_accuracy": val[-1], "val_accuracy_case_folded": None, "max_val_accuracy": max(val),
            "training_seconds": sum(float(epoch["seconds"]) for epoch in epochs),
            "device": saved["run"]["device"], "precision": saved["run"]["precision"]}


def recipe_label(recipe: str, changes: list[str]) -> str:
    """``tuned`` or, with ``--params`` changes, ``tuned+train.augment.erase=0.25``."""
    return "+".join([recipe, *changes])


def run_one(recipe: str, seed: int, args: argparse.Namespace) -> dict[str, object]:
    label = recipe_label(recipe, args.params)
    name = f"{label}-seed{seed}" if args.task == "task1" else f"{args.task}-{label}-seed{seed}"
    project = project_copy(args.workdir / re.sub(r"[^\w.+=-]", "_", name), keep=args.resume)
    params: dict[str, object] = {"train.seed": seed, **dict(change.split("=", 1) for change in args.params)}
    if args.resume:
        # A copy with no checkpoint yet starts from the first epoch; resume needs nothing more.
        params["train.resume"] = "true"
    if args.epochs:
        params["train.epochs"] = args.epochs
    if args.train_zip:
        params["raw_zip"] = args.train_zip.resolve()
    log = project / "run.log"
    started = time.perf_counter()
    if args.task == "digits":
        # Only the digits run and what it needs (preprocessing, the digit subset): no MNIST.
        kedro(project, RECIPES[recipe], "mnist_transfer", params, log, to_outputs="mnist_transfer.digits_history")
    else:
        kedro(project, RECIPES[recipe], None, params, log)
    wall = time.perf_counter() - started
    metrics = digits_metrics(project) if args.task == "digits" else latest_json(project, "metrics.json")
    data = args.train_zip.name if args.train_zip else "demo"
    row = {
        "recipe": label, "seed": seed, "epochs": metrics["epochs"],
        "data": data if args.task == "task1" else f"{data}, digits",
        "val_accuracy": metrics["val_accuracy"], "val_accuracy_case_folded": metrics["val_accuracy_case_folded"],
        "max_val_accuracy": metrics["max_val_accuracy"], "test_accuracy": None, "test_accuracy_case_folded": None,
        "training_seconds": round(metrics["training_seconds"], 1), "wall_seconds": round(wall, 1),
        "device": metrics["device"], "precision": metrics["precision"], "cpu": cpu_name(),
    }
    if args.test_zip:
        kedro(project, RECIPES[recipe], "evaluate", {"test_zip": args.test_zip.resolve()}, log)
        test = latest_json(project, "test_metrics.json")
        row.update(test_accuracy=test["accuracy"], test_accuracy_case_folded=test["accuracy_case_folded"])
    return row


def summarise(rows: list[dict[str, object]]) -> str:
    """Markdown: per recipe and data, mean +- standard deviation (min-max) of each accuracy."""
    lines = ["| recipe | data | epochs | seeds | val | val, case-folded | test | test, case-folded | training time |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    groups: dict[tuple, list] = {}
    for row in rows:
        groups.setdefault((row["recipe"], row["data"], row["epochs"]), []).append(row)

    def cell(group: list, key: str) -> str:
        values = [float(r[key]) for r in group if r[key] not in (None, "")]
        if not values:
            return "-"
        if len(values) == 1:
            return f"{values[0]:.1%}"
        return f"{statistics.mean(values):.1%} ± {statistics.stdev(values):.1%} ({min(values):.1%}-{max(values):.1%})"

    for (recipe, data, epochs), group in groups.items():
        minutes = statistics.mean(float(r["training_seconds"]) for r in group) / 60
        lines.append(f"| {recipe} | {data} | {epochs} | {len(group)} | {cell(group, 'val_accuracy')} | "
                     f"{cell(group, 'val_accuracy_case_folded')} | {cell(group, 'test_accuracy')} | "
                     f"{cell(group, 'test_accuracy_case_folded')} | {minutes:.1f} min |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--task", choices=["task1", "digits"], default="task1",
                        help="task1: the 62-class model; digits: Task 2's digits model on the zip's digit classes")
    parser.add_argument("--recipes", nargs="+", choices=sorted(RECIPES), default=["seed", "tuned"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, help="override the recipe's epochs (a quick look)")
    parser.add_argument("--params", nargs="+", default=[], metavar="KEY=VALUE",
                        help="changes laid over each recipe, as kedro run --params takes them (train.lr=0.004)")
    parser.add_argument("--train-zip", type=Path, help="a zip in trainPart1.zip's layout (default: the demo set)")
    parser.add_argument("--test-zip", type=Path, help="a zip in the same layout to score with evaluate")
    parser.add_argument("--out", type=Path, default=Path("recipes.csv"), help="CSV that each finished run is appended to")
    parser.add_argument("--workdir", type=Path, default=Path("benchmark-runs"), help="where the project copies go")
    parser.add_argument("--resume", action="store_true",
                        help="keep existing project copies and continue their runs from the last checkpoint")
    args = parser.parse_args()
    for path in (args.train_zip, args.test_zip):
        if path is not None and not path.is_file():
            parser.error(f"{path}: file not found")
    for change in args.params:
        if not re.fullmatch(r"[\w.]+=[^,]+", change):
            parser.error(f"--params {change}: expected KEY=VALUE, one change per word (train.lr=0.004)")
        if change.split("=", 1)[0] in ("train.seed", "train.epochs", "train.resume"):
            parser.error(f"--params {change}: set it with --seeds, --epochs or --resume, which name the rows and copies")
    if args.test_zip and args.task != "task1":
        parser.error("--test-zip scores Task 1's model; the digits run is measured on its validation images")
    if args.test_zip and not args.train_zip:
        parser.error("--test-zip needs --train-zip: the demo set's classes are drawn, not handwritten")

    rows = []
    new_file = not args.out.exists()
    for recipe in args.recipes:
        for seed in args.seeds:
            row = run_one(recipe, seed, args)
            rows.append(row)
            with args.out.open("a", newline="") as out:
                writer = csv.DictWriter(out, fieldnames=COLUMNS)
                if new_file:
                    writer.writeheader()
                    new_file = False
                writer.writerow(row)
            print(json.dumps(row), flush=True)
    print(summarise(rows))


if __name__ == "__main__":
    main()
