"""The manifest of a dataset folder: the inputs, the parts, their entries and status.

`_manifest.json` sits beside the parts (parquet readers skip names starting with `_`). It names
the job (inputs and options), so a rerun of the same command knows which parts are done and a
different command is refused instead of mixing two datasets in one folder.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from converters.errors import EventLabError

MANIFEST_NAME = "_manifest.json"
KIND = "eventlab columns dataset"
VERSION = 1


@dataclass
class Manifest:
    """What the folder holds and how far the run that writes it got."""

    job: dict
    inputs: list[dict]  # name, entries (None until opened), status, error
    parts: dict[str, dict] = field(default_factory=dict)  # name -> input, entries, events, ...

    @classmethod
    def new(cls, job: dict, inputs: list[str]) -> Manifest:
        """An empty manifest for a new run."""
        return cls(job, [{"name": name, "entries": None, "status": "pending"} for name in inputs])

    def same_job(self, job: dict, inputs: list[str]) -> bool:
        """Whether this manifest belongs to the given job over the given inputs."""
        return self.job == job and [entry["name"] for entry in self.inputs] == inputs

    @property
    def events(self) -> int:
        """Events in the parts done so far."""
        return sum(part.get("events") or 0 for part in self.parts.values())

    @property
    def complete(self) -> bool:
        """Whether every input was read and every part is done."""
        inputs_done = all(entry["status"] == "done" for entry in self.inputs)
        return inputs_done and all(part["status"] == "done" for part in self.parts.values())

    def as_json(self) -> dict:
        """The manifest as written to the folder."""
        return {
            "kind": KIND,
            "version": VERSION,
            "status": "complete" if self.complete else "incomplete",
            "events": self.events,
            "job": self.job,
            "inputs": self.inputs,
            "parts": [{"name": name, **part} for name, part in sorted(self.parts.items())],
        }

    def write(self, folder: Path) -> None:
        """Write (temporary name, then rename) the manifest into `folder`."""
        path = folder / MANIFEST_NAME
        temporary = folder / f".{MANIFEST_NAME}.partial-{os.getpid()}"
        temporary.write_text(json.dumps(self.as_json(), indent=1) + "\n", encoding="utf-8")
        os.replace(temporary, path)


def read_manifest(folder: Path) -> Manifest | None:
    """The manifest of a dataset folder, None when the folder has none."""
    path = Path(folder) / MANIFEST_NAME
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("kind") != KIND:
            raise ValueError("not ours")
        parts = {part.pop("name"): part for part in data["parts"]}
        return Manifest(data["job"], data["inputs"], parts)
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        raise EventLabError(
            f"{path}: not a readable EventLab dataset manifest; remove the folder or choose another"
        ) from None


def part_files(folder: Path, suffix: str = ".parquet") -> list[Path]:
    """The part files of a dataset folder, in the order of their rows."""
    return sorted(Path(folder).glob(f"part-*{suffix}"))
