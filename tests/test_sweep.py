"""The sweep: its configurations, its pipeline's structure, its comparison and test scores, and the Dask cluster's sizing."""

from __future__ import annotations

import statistics
from pathlib import Path

import pandas as pd
import pytest
import yaml
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project

from playing_with_mnist.demo.characters import write_demo_zip
from playing_with_mnist.ingest.archive import CharacterArchive
from playing_with_mnist.pipelines.evaluate.nodes import evaluate_test_set
from playing_with_mnist.pipelines.sweep.nodes import compare_sweep, score_sweep
from playing_with_mnist.runner.cluster import choose_gpu, plan_local_cluster
from playing_with_mnist.sweep import recipe_and_seed, sweep_runs, training_tags

from .conftest import PROJECT_ROOT
from .params import TRAIN, history


def test_every_recipe_runs_at_every_seed_over_train() -> None:
    runs = sweep_runs({"seed": {}, "tuned": {"dropout": 0.1, "augment": {"rotate": 10}}}, [0, 7])
    assert runs == {"seed_s0": {"seed": 0}, "seed_s7": {"seed": 7},
                    "tuned_s0": {"dropout": 0.1, "augment": {"rotate": 10}, "seed": 0},
                    "tuned_s7": {"dropout": 0.1, "augment": {"rotate": 10}, "seed": 7}}
    assert recipe_and_seed("tuned_s7") == ("tuned", 7) and recipe_and_seed("by_hand") == ("by_hand", None)
    assert training_tags("sweep.tuned_s7") == {"sweep": "sweep", "configuration": "tuned_s7", "recipe": "tuned", "seed": "7"}
    assert training_tags("task1") == {} and training_tags("noisy_labels.cleaned") == {"recipe": "tuned"}  # mnist_recipe's
    assert training_tags("mnist_transfer.n300_s1.scratch") == {"recipe": "tuned", "train_size": "300", "seed": "1"}
    with pytest.raises(ValueError, match="sweep.seeds"):
        sweep_runs({"seed": {}}, ["one"])


def test_the_default_sweep_is_both_recipes_at_three_seeds_and_tuned_is_read_from_conf_tuned() -> None:
    from kedro.config import OmegaConfigLoader
    from kedro.framework.project import settings

    from playing_with_mnist import settings as project_settings

    settings.configure("playing_with_mnist.settings")
    loader = OmegaConfigLoader(str(PROJECT_ROOT / "conf"), **project_settings.CONFIG_LOADER_ARGS)
    runs = loader["parameters"]["sweep"]["runs"]
    assert list(runs) == ["seed_s0", "seed_s1", "seed_s2", "tuned_s0", "tuned_s1", "tuned_s2"]
    tuned = yaml.safe_load((PROJECT_ROOT / "conf/tuned/parameters_train.yml").read_text())["train"]
    assert runs["tuned_s1"] == {**{k: v for k, v in tuned.items() if k != "epochs"}, "seed": 1}
    assert runs["seed_s2"] == {"seed": 2}


def test_the_sweep_pipeline_trains_once_per_configuration_then_compares(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(PROJECT_ROOT)
    from playing_with_mnist.pipelines.sweep import create_pipeline

    pipeline = create_pipeline()
    trainings = sorted(n.name for n in pipeline.nodes if n.name.endswith(".train_model"))
    assert trainings == [f"sweep.{r}_s{s}.train_model" for r in ("seed", "tuned") for s in range(3)]
    (compare,) = [n for n in pipeline.nodes if n.name == "sweep.compare_sweep"]
    assert compare.inputs == ["params:sweep.runs", "sweep.test_scores"] + [f"sweep.{r}_s{s}_history" for r in ("seed", "tuned") for s in range(3)]
    (score,) = [n for n in pipeline.nodes if n.name == "sweep.score_sweep"]
    assert score.inputs == (["sweep.test_character_zip", "params:preprocess", "params:sweep.runs"]
                            + [f"sweep.{r}_s{s}_model" for r in ("seed", "tuned") for s in range(3)])
    assert set(compare.outputs) == {"sweep.comparison", "sweep.recipe_summary", "sweep.accuracy_curves"}
    training = next(n for n in pipeline.nodes if n.name == "sweep.tuned_s1.train_model")
    assert {"character_images", "train_val_split", "sweep.tuned_s1.train_config"} <= set(training.inputs)
    settings = next(n for n in pipeline.nodes if n.name == "sweep.tuned_s1.resolve_train_config")
    assert settings.inputs == ["params:train", "params:sweep.runs.tuned_s1"]
    # no training depends on another: a parallel runner may run all six at once
    assert all(not (pipeline.node_dependencies[n] & {m for m in pipeline.nodes if m.name.endswith(".train_model")})
               for n in pipeline.nodes if n.name.endswith(".train_model"))


def test_the_comparison_table_and_summary_agree_with_the_histories() -> None:
    runs = {"seed_s0": {"seed": 0}, "seed_s1": {"seed": 1}, "tuned_s0": {"seed": 0}, "tuned_s1": {"seed": 1}}
    histories = [history([0.1, 0.3, 0.2]), history([0.2, 0.25, 0.4]), history([0.5, 0.7, 0.6]), history([0.4, 0.6, 0.8])]
    table, summary, figure = compare_sweep(runs, score_sweep(None, {}, runs), *histories)
    assert not any(column.startswith("test_") for column in [*table.columns, *summary.columns]), "no test zip, no test columns"
    assert list(table["run"]) == list(runs) and list(table["recipe"]) == ["seed", "seed", "tuned", "tuned"]
    assert list(table["seed"]) == [0, 1, 0, 1]
    assert table["final_val_accuracy"].tolist() == pytest.approx([0.2, 0.4, 0.6, 0.8])
    assert table["best_val_accuracy"].tolist() == pytest.approx([0.3, 0.4, 0.7, 0.8])
    assert table["best_epoch"].tolist() == [2, 3, 2, 3]
    summary = summary.set_index("recipe")
    assert summary.loc["seed", "runs"] == 2
    assert summary.loc["seed", "final_val_accuracy_mean"] == pytest.approx(0.3)
    assert summary.loc["tuned", "final_val_accuracy_std"] == pytest.approx(pd.Series([0.6, 0.8]).std())
    assert summary.loc["tuned", "best_val_accuracy_mean"] == pytest.approx(0.75)
    assert (summary.loc["seed", "final_val_accuracy_min"], summary.loc["seed", "final_val_accuracy_max"]) == pytest.approx((0.2, 0.4))
    lines = figure.axes[0].get_lines()
    assert len([line for line in lines if line.get_label().startswith(("seed (", "tuned ("))]) == 2
    mean = next(line for line in lines if line.get_label().startswith("tuned ("))
    assert list(mean.get_ydata()) == pytest.approx([0.45, 0.65, 0.7])


def test_test_scores_join_the_table_and_are_summarised_per_recipe() -> None:
    runs = {"seed_s0": {}, "seed_s1": {}, "seed_s2": {}, "tuned_s0": {}}
    histories = [history([0.1, 0.2]), history([0.2, 0.3]), history([0.3, 0.4]), history([0.5, 0.6])]
    scores = pd.DataFrame({"run": ["tuned_s0", "seed_s0", "seed_s1", "seed_s2"], "test_accuracy": [0.9, 0.5, 0.6, 0.8],
                           "test_accuracy_case_folded": [None, None, None, None]})
    table, summary, _ = compare_sweep(runs, scores, *histories)
    assert list(table["run"]) == list(runs), "the table keeps the sweep's order"
    assert table["test_accuracy"].tolist() == pytest.approx([0.5, 0.6, 0.8, 0.9])
    summary = summary.set_index("recipe")
    seed = summary.loc["seed"]
    assert seed["test_accuracy_mean"] == pytest.approx(statistics.mean([0.5, 0.6, 0.8]))
    assert seed["test_accuracy_std"] == pytest.approx(statistics.stdev([0.5, 0.6, 0.8]))
    assert (seed["test_accuracy_min"], seed["test_accuracy_max"]) == pytest.approx((0.5, 0.8))
    assert (summary.loc["tuned", "test_accuracy_mean"], summary.loc["tuned", "test_accuracy_std"]) == pytest.approx((0.9, 0.0))
    assert pd.isna(seed["test_accuracy_case_folded_mean"]), "no two classes differ only by case: nothing to fold"


@pytest.mark.slow
def test_a_sweep_given_a_test_zip_scores_every_saved_model_as_evaluate_does(project_copy: Path, tmp_path: Path,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    characters = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZa"  # 37 folders: A and a differ only by case
    train_zip = write_demo_zip(tmp_path / "train.zip", seed=3, images_per_class=4, image_size=(96, 72), characters=characters)
    test_zip = write_demo_zip(tmp_path / "test.zip", seed=4, images_per_class=2, image_size=(96, 72), characters=characters)
    sweep = {"seeds": [0, 1], "recipes": {"seed": {}, "tuned": "${env_train:tuned,epochs}"},
             "runs": "${sweep_runs:${sweep.recipes},${sweep.seeds}}"}
    (project_copy / "conf/base/parameters_sweep.yml").write_text(yaml.safe_dump({"sweep": sweep}))
    monkeypatch.chdir(project_copy)  # the pipelines are registered from the folder the command runs in
    bootstrap_project(project_copy)
    params = {"raw_zip": str(train_zip), "train": TRAIN, "sweep": {"test_zip": str(test_zip)}}
    with KedroSession.create(project_path=project_copy, runtime_params=params) as session:
        session.run(pipeline_names=["sweep"])
        catalog = session.load_context().catalog
    table = catalog.load("sweep.comparison").set_index("run")
    summary = catalog.load("sweep.recipe_summary").set_index("recipe")
    runs = ["seed_s0", "seed_s1", "tuned_s0", "tuned_s1"]
    assert list(table.index) == runs and table["test_accuracy_case_folded"].notna().all()
    for run in runs:
        scored, *_ = evaluate_test_set(CharacterArchive.from_zip(test_zip), catalog.load(f"sweep.{run}_model"),
                                       catalog.load("params:preprocess"))
        assert table.loc[run, "test_accuracy"] == pytest.approx(scored["accuracy"])
        assert table.loc[run, "test_accuracy_case_folded"] == pytest.approx(scored["accuracy_case_folded"])
    for recipe in ("seed", "tuned"):
        for column in ("test_accuracy", "test_accuracy_case_folded"):
            values = table.loc[[f"{recipe}_s0", f"{recipe}_s1"], column].tolist()
            assert summary.loc[recipe, f"{column}_mean"] == pytest.approx(statistics.mean(values))
            assert summary.loc[recipe, f"{column}_std"] == pytest.approx(statistics.stdev(values))
    with KedroSession.create(project_path=project_copy) as session:
        assert session.load_context().catalog.load("sweep.test_character_zip") is None, "not given: nothing to score"


def test_a_local_cluster_fits_the_machine() -> None:
    cpu = plan_local_cluster(cpu_count=2, gpu_count=0, has_dask_cuda=False)
    assert (cpu.kind, cpu.n_workers, cpu.threads_per_worker, cpu.torch_threads, cpu.gpus) == ("cpu", 2, 1, 1, ())
    big = plan_local_cluster(cpu_count=16, gpu_count=1, has_dask_cuda=True)
    assert (big.kind, big.n_workers, big.torch_threads) == ("cpu", 4, 4), "one GPU: workers share it and the cores"
    gpus = plan_local_cluster(cpu_count=16, gpu_count=4, has_dask_cuda=False)
    assert (gpus.kind, gpus.n_workers, gpus.gpus, gpus.torch_threads) == ("gpus", 4, (0, 1, 2, 3), 4)
    assert plan_local_cluster(cpu_count=16, gpu_count=4, has_dask_cuda=True).kind == "dask-cuda"
    mine = plan_local_cluster(cpu_count=8, gpu_count=0, has_dask_cuda=False, n_workers=3, threads_per_worker=2)
    assert (mine.n_workers, mine.threads_per_worker, mine.torch_threads) == (3, 2, 2)
    with pytest.raises(ValueError, match="n_workers"):
        plan_local_cluster(cpu_count=8, gpu_count=0, has_dask_cuda=False, n_workers=0)


def test_a_worker_trains_on_its_own_gpu() -> None:
    assert choose_gpu(None, device_count=4, worker_name=2) == 2
    assert choose_gpu(None, device_count=2, worker_name="3") == 1
    assert choose_gpu("1", device_count=4, worker_name=2) is None, "given its GPU: its first device"
    assert choose_gpu(None, device_count=1, worker_name=5) is None
    assert choose_gpu(None, device_count=0, worker_name=0) is None
