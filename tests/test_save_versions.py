"""Each run gets a save version of its own, even when two runs start in the same millisecond."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import pytest

from playing_with_mnist.context import claim_save_version, next_version

from .test_project_run import run_session

SAME_MILLISECOND = "2026-11-28T23.52.03.435Z"


def test_next_version_is_one_millisecond_later_and_carries_over() -> None:
    assert next_version(SAME_MILLISECOND) == "2026-11-28T23.52.03.436Z"
    assert next_version("2026-12-31T23.59.59.999Z") == "2027-01-01T00.00.00.000Z"


def test_a_version_already_claimed_moves_to_the_next_millisecond(tmp_path: Path) -> None:
    record = tmp_path / "data" / ".save_version"
    first = claim_save_version(record, SAME_MILLISECOND)
    second = claim_save_version(record, SAME_MILLISECOND)
    earlier = claim_save_version(record, "2026-11-28T23.52.03.000Z")
    later = claim_save_version(record, "2026-11-28T23.53.00.000Z")
    assert first == SAME_MILLISECOND
    assert second == "2026-11-28T23.52.03.436Z"
    assert earlier == "2026-11-28T23.52.03.437Z", "a clock that went back still gets a newer version"
    assert later == "2026-11-28T23.53.00.000Z", "a version after every claim is kept as it is"


def test_a_record_that_holds_no_version_starts_again(tmp_path: Path) -> None:
    record = tmp_path / ".save_version"
    record.write_text("not a version\n")
    assert claim_save_version(record, SAME_MILLISECOND) == SAME_MILLISECOND
    assert record.read_text().strip() == SAME_MILLISECOND


def test_a_data_folder_that_cannot_be_written_is_named(tmp_path: Path) -> None:
    not_a_folder = tmp_path / "data"
    not_a_folder.write_text("a file where the data folder should be")
    with pytest.raises(OSError, match=r"data/\.save_version .*must be a writable folder"):
        claim_save_version(not_a_folder / ".save_version", SAME_MILLISECOND)


def claim_many(record: Path) -> list[str]:
    return [claim_save_version(record, SAME_MILLISECOND) for _ in range(25)]


def test_processes_claiming_at_once_never_share_a_version(tmp_path: Path) -> None:
    record = tmp_path / ".save_version"
    with multiprocessing.get_context("spawn").Pool(4) as pool:
        claims = [version for batch in pool.map(claim_many, [record] * 4) for version in batch]
    assert len(claims) == 100
    assert len(set(claims)) == 100
    assert max(claims) == record.read_text().strip()


@pytest.mark.slow
def test_two_runs_created_in_the_same_millisecond_both_save(project_copy: Path, tiny_zip: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    import kedro.framework.session.session as kedro_session

    monkeypatch.setattr(kedro_session, "generate_timestamp", lambda: SAME_MILLISECOND)
    for _ in range(2):
        run_session(project_copy, ["preprocess"], raw_zip=str(tiny_zip), tracking={"enabled": False})
    versions = sorted(p.name for p in (project_copy / "data/08_reporting/preprocess_summary.json").iterdir())
    assert versions == [SAME_MILLISECOND, "2026-11-28T23.52.03.436Z"]
