"""The arithmetic of the hand-run benchmarks whose numbers the README quotes (no training here)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pandas as pd
import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def benchmark(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"benchmark_{name}", BENCHMARKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_case_errors_split_shape_from_case_per_group() -> None:
    case_errors = benchmark("case_errors")
    predictions = pd.DataFrame({
        "true":      ["o", "O", "s", "S", "a", "A", "7", "7"],
        "predicted": ["O", "O", "s", "x", "a", "a", "7", "1"],
    })
    table = case_errors.case_error_table(predictions)
    same_shape = table.loc["same-shape letters"]
    assert same_shape["images"] == 4
    assert same_shape["case_folded"] == pytest.approx(3 / 4)  # o->O, O->O, s->s right in shape; S->x not
    assert same_shape["exact"] == pytest.approx(2 / 4)
    assert same_shape["case_right_when_shape_right"] == pytest.approx(2 / 3)
    assert table.loc["other letters", "case_right_when_shape_right"] == pytest.approx(1 / 2)
    assert table.loc["digits", "case_folded"] == pytest.approx(1 / 2) == table.loc["digits", "exact"]


def test_case_directions_count_each_way_per_same_shape_letter() -> None:
    case_errors = benchmark("case_errors")
    predictions = pd.DataFrame({
        "true":      ["o", "o", "o", "O", "O", "s", "S", "a", "A"],
        "predicted": ["O", "O", "o", "o", "0", "s", "S", "A", "a"],
    })
    directions = case_errors.case_direction_table(predictions)
    assert len(directions) == 15  # only the same-shape letters: a/A is not counted
    assert directions.loc["o/O"].to_dict() == {
        "small": 3, "small_read_as_capital": 2, "capital": 2, "capital_read_as_small": 1,  # O->0 is no case error
    }
    assert directions.loc["s/S"].to_dict() == {
        "small": 1, "small_read_as_capital": 0, "capital": 1, "capital_read_as_small": 0,
    }
    assert directions.loc["x/X", "small"] == 0


def test_ensembles_average_probabilities_over_every_subset_of_each_size() -> None:
    import torch

    ensemble = benchmark("ensemble")
    labels = torch.tensor([0, 1, 2])
    names = ["a", "A", "b"]
    probabilities = [
        torch.tensor([[0.6, 0.4, 0.0], [0.6, 0.4, 0.0], [0.0, 0.6, 0.4]]),  # right on image 0 only; a for A counts case-folded
        torch.tensor([[0.3, 0.7, 0.0], [0.3, 0.7, 0.0], [0.0, 0.3, 0.7]]),  # wrong on image 0 (A for a), right on 1 and 2
        torch.tensor([[0.9, 0.1, 0.0], [0.3, 0.7, 0.0], [0.0, 0.3, 0.7]]),  # right on all three
    ]
    rows = ensemble.ensemble_accuracies(probabilities, labels, names)
    assert [row["models"] for row in rows] == [1, 2, 3]
    assert [row["subsets"] for row in rows] == [3, 3, 1]
    single, pairs, everything = rows
    assert single["accuracy"] == pytest.approx((1 / 3 + 2 / 3 + 1) / 3)
    assert (single["accuracy_min"], single["accuracy_max"]) == pytest.approx((1 / 3, 1))
    assert single["accuracy_case_folded"] == pytest.approx((2 / 3 + 1 + 1) / 3)
    # models 0 and 1 average to A on image 0 (0.55 against 0.45); both other pairs are right everywhere
    assert pairs["accuracy"] == pytest.approx((2 / 3 + 1 + 1) / 3)
    assert (pairs["accuracy_min"], pairs["accuracy_max"]) == pytest.approx((2 / 3, 1))
    assert everything["accuracy"] == everything["accuracy_min"] == everything["accuracy_max"] == pytest.approx(1)



def test_serving_summary_is_rates_from_the_mean_and_percentiles_in_ms() -> None:
    serving = benchmark("serving")
    summary = serving.latency_summary([0.1] * 19 + [0.3], batch=64)
    assert summary["requests"] == 20 and summary["p50_ms"] == pytest.approx(100.0)
    assert summary["requests_per_s"] == pytest.approx(1 / 0.11, abs=0.01) and summary["images_per_s"] == pytest.approx(64 / 0.11, abs=0.1)
    assert 100.0 < summary["p95_ms"] <= 300.0
