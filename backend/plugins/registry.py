"""The plugin registry: every folder of the plugins directory, loaded or refused with problems.

The application installs one registry at start (`install`), from the CARETRAIL_PLUGINS_DIR
setting; command handlers of other contexts reach it through `active()` so that their
signatures do not change. A reload swaps the whole snapshot at once: a request sees either
the old plugins or the new ones, never a mix.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import structlog

from backend.plugins.loading import MANIFEST, ManifestError, Problem, load_plugin
from backend.plugins.model import Plugin

log = structlog.get_logger("caretrail.plugins")
DEFAULT_DIR = Path(__file__).resolve().parents[2] / "plugins"


@dataclass(frozen=True)
class Catalog:
    """One consistent load of the plugins directory."""

    plugins: Mapping[str, Plugin] = field(default_factory=dict)
    problems: Mapping[str, tuple[Problem, ...]] = field(default_factory=dict)

    def status(self) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        for name in sorted({*self.plugins, *self.problems}):
            plugin = self.plugins.get(name)
            rows.append(
                {
                    "name": name,
                    "version": plugin.version if plugin else None,
                    "display_name": plugin.display_name if plugin else None,
                    "status": "loaded" if plugin else "invalid",
                    "problems": [p.as_dict() for p in self.problems.get(name, ())],
                }
            )
        return rows


class PluginRegistry:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._catalog = Catalog()
        self._lock = threading.Lock()

    @property
    def catalog(self) -> Catalog:
        return self._catalog

    def reload(self) -> Catalog:
        """Load every plugin folder again; a broken one is reported and skipped."""
        with self._lock:
            plugins: dict[str, Plugin] = {}
            problems: dict[str, tuple[Problem, ...]] = {}
            for folder in self._folders():
                try:
                    plugins[folder.name] = load_plugin(folder)
                except ManifestError as e:
                    problems[folder.name] = tuple(e.problems)
                    log.error("plugin_invalid", plugin=folder.name, problems=str(e))
            self._catalog = Catalog(plugins, problems)
            log.info("plugins_loaded", loaded=sorted(plugins), invalid=sorted(problems))
            return self._catalog

    def _folders(self) -> list[Path]:
        if not self.directory.is_dir():
            log.warning("plugins_dir_missing", directory=str(self.directory))
            return []
        return sorted(p for p in self.directory.iterdir() if p.is_dir() and (p / MANIFEST).exists())


_active: PluginRegistry | None = None


def install(registry: PluginRegistry) -> PluginRegistry | None:
    """Make `registry` the active one; returns the one it replaces (tests restore it)."""
    global _active
    previous, _active = _active, registry
    return previous


def active() -> PluginRegistry:
    """The installed registry (the default directory, loaded, if none was installed)."""
    global _active
    if _active is None:
        _active = PluginRegistry(DEFAULT_DIR)
        _active.reload()
    return _active
