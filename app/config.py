"""Settings of one running app, shared by its tabs."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

BUNDLED_DATA_DIR = Path(__file__).resolve().parents[1] / "sample_events" / "data"


# A page (both tabs of one student) may keep this much in the server's memory: 30 pages of it,
# on top of the server itself and the pages' own widgets, fit in a 2 GB server.
DEFAULT_SESSION_MEMORY_MB = 32.0
DEFAULT_MAX_UPLOAD_MB = 32.0
DEFAULT_ACTION_SECONDS = 10.0


@dataclass(frozen=True)
class AppConfig:
    """What the server was started with: where data may be read from, and the limits of a page."""

    data_dirs: tuple[Path, ...] = (BUNDLED_DATA_DIR,)
    max_upload_mb: float = DEFAULT_MAX_UPLOAD_MB
    session_memory_mb: float = DEFAULT_SESSION_MEMORY_MB
    action_seconds: float = DEFAULT_ACTION_SECONDS
    prefix: str = ""
    class_dir: Path | None = None  # where class records live (None: the user's data folder)
    masterclass_file: Path | None = None  # the masterclass categories (None: the bundled ones)
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def max_upload_bytes(self) -> int:
        """The upload limit in bytes."""
        return int(self.max_upload_mb * 1024 * 1024)

    @property
    def session_memory_bytes(self) -> int:
        """What one page may keep in the server's memory, in bytes."""
        return int(self.session_memory_mb * 1024 * 1024)
