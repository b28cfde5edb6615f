"""The class store and masterclass of a running server, shared by its pages."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from app.config import AppConfig
from app.masterclass.categories import Masterclass, load_masterclass
from app.masterclass.store import ClassStore, ClassStoreError, default_class_dir


def class_dir(config: AppConfig) -> Path:
    """The folder of the class records."""
    return Path(config.class_dir) if config.class_dir is not None else default_class_dir()


@lru_cache(maxsize=4)
def _store(folder: Path) -> ClassStore:
    """One store object per folder and process (each change opens its own connection)."""
    return ClassStore(folder)


def class_store(config: AppConfig) -> ClassStore:
    """The class store of the server."""
    return _store(class_dir(config).expanduser().resolve())


@lru_cache(maxsize=4)
def _masterclass(path: Path | None) -> Masterclass:
    """A masterclass file, read once."""
    return load_masterclass(path)


def masterclass(config: AppConfig) -> Masterclass:
    """The masterclass (categories) of the server."""
    return _masterclass(config.masterclass_file)


def student_card(config: AppConfig, current, work, args: dict | None = None):
    """A page's masterclass card (see app/masterclass/student.py); a message if records are off."""
    from app.masterclass.student import StudentCard, UnavailableCard

    try:
        store = class_store(config)
    except ClassStoreError as error:
        return UnavailableCard(str(error))
    return StudentCard(store, masterclass(config), current, work, args)
