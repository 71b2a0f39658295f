"""requirements.lock agrees with pyproject.toml: every requirement pinned within its range, no pin left over.

Every install uses the lock (``pip install -c requirements.lock ...``); ``pip-compile`` refreshes it
(docs/getting-started.md). A requirement added to or changed in pyproject.toml without that refresh fails here.
"""

from __future__ import annotations

import re
import tomllib

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from .conftest import PROJECT_ROOT

PIN = re.compile(r"^([A-Za-z0-9._-]+)==(\S+)\s*(?:#\s*via\s+(.*))?$")
FROM_PYPROJECT = "playing_with_mnist (pyproject.toml)"


def _project_requirements() -> list[Requirement]:
    project = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["project"]
    lists = [project["dependencies"], *project.get("optional-dependencies", {}).values()]
    return [Requirement(line) for requirements in lists for line in requirements]


def _lock() -> dict[str, tuple[Version, str]]:
    pins = {}
    for line in (PROJECT_ROOT / "requirements.lock").read_text().splitlines():
        if (match := PIN.match(line.strip())) is not None:
            pins[canonicalize_name(match[1])] = (Version(match[2]), match[3] or "")
    return pins


def test_every_requirement_is_pinned_within_its_range() -> None:
    pins = _lock()
    for requirement in _project_requirements():
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{requirement} is not in requirements.lock: run pip-compile"
        assert requirement.specifier.contains(pins[name][0], prereleases=True), \
            f"requirements.lock pins {name}=={pins[name][0]}, outside {requirement}: run pip-compile"


def test_no_pin_is_left_from_a_requirement_pyproject_dropped() -> None:
    wanted = {canonicalize_name(requirement.name) for requirement in _project_requirements()}
    stale = sorted(name for name, (_, via) in _lock().items() if FROM_PYPROJECT in via and name not in wanted)
    assert not stale, f"requirements.lock pins {stale} for pyproject.toml, which no longer asks for them: run pip-compile"
