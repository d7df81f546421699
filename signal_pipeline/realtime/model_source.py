"""Which persisted cluster model live scoring uses, its segments' action flags, and hot reload.

``--model`` is either one artifact file (``cluster_model_vNNNN.npz``) or the artifacts folder,
in which case the newest version in it is used and a newer one is picked up as soon as
``cluster_model`` materializes it. Reading the folder needs no database connection, so the
service never contends for the warehouse's lock.

Action flags are decided per segment over all sessions (``segment_profiles``); the
``segment_membership`` asset writes them beside the model as ``segment_actions_vNNNN.json``
(:func:`write_segment_actions`). Without that file a segment's action flag is unknown (None).
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from signal_pipeline.segments.assign import core_index
from signal_pipeline.segments.model_artifact import ClusterModel

if TYPE_CHECKING:
    from sklearn.neighbors import NearestNeighbors

MODEL_FILE_PATTERN = re.compile(r"^cluster_model_v(?P<version>\d+)\.npz$")
ACTIONS_FILE_TEMPLATE = "segment_actions_v{version:04d}.json"


class ModelNotFoundError(FileNotFoundError):
    """No usable cluster model artifact at the given path."""


@dataclass(frozen=True)
class ScoringModel:
    """A loaded cluster model plus the action flag of each of its segment ids."""

    model: ClusterModel
    path: Path
    action_flags: dict[str, str] = field(default_factory=dict)
    _index: list[object] = field(default_factory=list, repr=False, compare=False)

    @property
    def version(self) -> int:
        """The model version."""
        return self.model.version

    @property
    def index(self) -> NearestNeighbors | None:
        """The nearest-core-sample index of the model (None without core samples), built on
        first use and kept: scoring a small batch must not rebuild it. Read-only once built,
        so threads share it."""
        if not len(self.model.core_samples):
            return None
        if not self._index:
            self._index.append(core_index(self.model.core_samples))
        return self._index[0]  # type: ignore[return-value]


def newest_artifact(folder: Path) -> Path:
    """The highest-versioned ``cluster_model_vNNNN.npz`` in ``folder``."""
    candidates = [
        (int(match.group("version")), path)
        for path in folder.iterdir()
        if (match := MODEL_FILE_PATTERN.match(path.name)) and path.is_file()
    ]
    if not candidates:
        raise ModelNotFoundError(f"no cluster_model_v*.npz in {folder} (materialize cluster_model)")
    return max(candidates)[1]


def resolve_artifact(model_path: str | Path) -> Path:
    """The artifact file ``model_path`` designates (a file, or the newest in a folder)."""
    path = Path(model_path).expanduser().resolve()
    if path.is_dir():
        return newest_artifact(path)
    if not path.is_file():
        raise ModelNotFoundError(f"model not found: {path}")
    return path


def actions_path(artifact: Path, version: int) -> Path:
    """Where the action flags of model ``version`` are kept (beside its artifact)."""
    return artifact.parent / ACTIONS_FILE_TEMPLATE.format(version=version)


def read_segment_actions(path: Path, version: int) -> dict[str, str]:
    """segment_id → action flag from ``path`` (empty when absent or for another version)."""
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if payload.get("cluster_version") != version:
        return {}
    return {str(k): str(v["action_flag"]) for k, v in payload.get("segments", {}).items()}


def write_segment_actions(
    artifact_dir: Path, version: int, segments: dict[str, dict[str, str]]
) -> Path:
    """Write ``{cluster_version, segments: {id: {segment_name, action_flag}}}`` atomically."""
    target = artifact_dir / ACTIONS_FILE_TEMPLATE.format(version=version)
    target.parent.mkdir(parents=True, exist_ok=True)
    body = json.dumps({"cluster_version": version, "segments": segments}, indent=2, sort_keys=True)
    handle, temp_name = tempfile.mkstemp(dir=target.parent, suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(body)
        os.replace(temp_name, target)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise
    return target


def load_scoring_model(model_path: str | Path) -> ScoringModel:
    """Load the model ``model_path`` designates, with its action flags when known."""
    artifact = resolve_artifact(model_path)
    try:
        model = ClusterModel.load(artifact)
    except (OSError, ValueError, KeyError) as error:
        raise ModelNotFoundError(f"{artifact}: not a usable cluster model ({error})") from error
    flags = read_segment_actions(actions_path(artifact, model.version), model.version)
    return ScoringModel(model=model, path=artifact, action_flags=flags)


def _stamp(path: Path) -> tuple[str, int] | None:
    try:
        return (str(path), path.stat().st_mtime_ns)
    except OSError:
        return None


class ModelWatcher:
    """Holds the current :class:`ScoringModel` and reloads it when the artifact changes.

    :meth:`refresh` is cheap (a directory listing and two ``stat`` calls) and safe to call from
    any thread; a model that fails to load is reported and the previous one kept.
    """

    def __init__(self, model_path: str | Path) -> None:
        self.model_path = Path(model_path).expanduser().resolve()
        self._lock = threading.Lock()
        self._current = load_scoring_model(self.model_path)
        self._stamps = self._current_stamps(self._current.path, self._current.version)
        self.last_error: str | None = None

    @staticmethod
    def _current_stamps(artifact: Path, version: int) -> tuple[object, object]:
        return (_stamp(artifact), _stamp(actions_path(artifact, version)))

    @property
    def current(self) -> ScoringModel:
        """The model in use."""
        return self._current

    def refresh(self) -> bool:
        """Reload when a newer artifact (or its action flags) appeared; True when reloaded."""
        try:
            artifact = resolve_artifact(self.model_path)
        except ModelNotFoundError as error:
            self.last_error = str(error)
            return False
        version_match = MODEL_FILE_PATTERN.match(artifact.name)
        version = int(version_match.group("version")) if version_match else self._current.version
        stamps = self._current_stamps(artifact, version)
        if stamps == self._stamps:
            return False
        try:
            loaded = load_scoring_model(artifact)
        except ModelNotFoundError as error:
            self.last_error = str(error)
            return False
        with self._lock:
            self._current = loaded
            self._stamps = self._current_stamps(loaded.path, loaded.version)
            self.last_error = None
        return True
