"""constraints.txt pins every dependency pyproject.toml declares, within its range, and the
environment the tests run in is the pinned one (so CI tests what a fresh clone installs)."""

from __future__ import annotations

import tomllib
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]


def _pins() -> dict[str, Version]:
    pins: dict[str, Version] = {}
    for raw in (ROOT / "constraints.txt").read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        name, sep, version = line.partition("==")
        assert sep, f"constraints.txt: {raw!r} is not pinned with =="
        pins[canonicalize_name(name)] = Version(version)
    return pins


def _declared() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = [Requirement(r) for r in project["dependencies"]]
    for extra in project["optional-dependencies"].values():
        declared.extend(Requirement(r) for r in extra)
    return declared


def test_every_declared_dependency_is_pinned_inside_its_range() -> None:
    pins = _pins()
    problems = []
    for requirement in _declared():
        name = canonicalize_name(requirement.name)
        if name not in pins:
            problems.append(f"{requirement.name}: not in constraints.txt (run make lock)")
        elif not requirement.specifier.contains(pins[name], prereleases=True):
            problems.append(f"{requirement.name}: pinned {pins[name]} outside {requirement}")
    assert not problems, "\n".join(problems)


def test_the_test_environment_is_the_pinned_one() -> None:
    pins = _pins()
    core = ["dagster", "duckdb", "pandas", "scikit-learn", "great-expectations", "sqlglot"]
    mismatched = {
        name: (metadata.version(name), str(pins[canonicalize_name(name)]))
        for name in core
        if Version(metadata.version(name)) != pins[canonicalize_name(name)]
    }
    assert not mismatched, f"installed vs pinned (run make install): {mismatched}"
