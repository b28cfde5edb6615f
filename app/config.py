"""Settings of one running app, shared by its tabs."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

BUNDLED_DATA_DIR = Path(__file__).resolve().parents[1] / "sample_events" / "data"


@dataclass(frozen=True)
class AppConfig:
    """What the server was started with: where data may be read from, and upload limits."""

    data_dirs: tuple[Path, ...] = (BUNDLED_DATA_DIR,)
    max_upload_mb: float = 200.0
    prefix: str = ""
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def max_upload_bytes(self) -> int:
        """The upload limit in bytes."""
        return int(self.max_upload_mb * 1024 * 1024)
