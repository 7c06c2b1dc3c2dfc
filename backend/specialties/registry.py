"""The plugin registry: every folder of the plugins directory, loaded or refused with problems.

The application installs one registry at start (`install`), from the CARETRAIL_PLUGINS_DIR
setting; command handlers of other contexts reach it through `active()` so that their
signatures do not change. A reload swaps the whole snapshot at once: a request sees either
the old plugins or the new ones, never a mix. A plugin whose manifest became invalid keeps
serving the version it had (its last good load) until the manifest is fixed: one bad edit
does not take a specialty away from every tenant using it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import structlog

from backend.shipped import shipped_folder
from backend.specialties.calculators import CalculatorWorkers
from backend.specialties.loading import MANIFEST, ManifestError, Problem, load_plugin
from backend.specialties.model import Plugin

log = structlog.get_logger("caretrail.plugins")
DEFAULT_DIR = shipped_folder("plugins")


@dataclass(frozen=True)
class Catalog:
    """One consistent load of the plugins directory. `plugins` are the ones serving: those
    loaded now and those kept at their previous version (their manifest now has `problems`)."""

    plugins: Mapping[str, Plugin] = field(default_factory=dict)
    problems: Mapping[str, tuple[Problem, ...]] = field(default_factory=dict)

    def serving(self, names: Iterable[str]) -> dict[str, Plugin]:
        """The named plugins that serve (what a tenant's writes accept of its specialties)."""
        return {name: self.plugins[name] for name in names if name in self.plugins}

    def status(self, workers: CalculatorWorkers | None = None) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        for name in sorted({*self.plugins, *self.problems}):
            plugin = self.plugins.get(name)
            status = "invalid" if plugin is None else "loaded"
            if plugin is not None and name in self.problems:
                status = "previous_version"
            parked = workers.parked(name, plugin.version) if workers and plugin else []
            rows.append(
                {
                    "name": name,
                    "version": plugin.version if plugin else None,
                    "display_name": plugin.display_name if plugin else None,
                    "status": status,
                    "problems": [p.as_dict() for p in self.problems.get(name, ())],
                    "parked_calculators": parked,
                }
            )
        return rows


class PluginRegistry:
    def __init__(self, directory: Path, workers: CalculatorWorkers | None = None) -> None:
        self.directory = directory
        self.workers = workers or CalculatorWorkers()
        """The processes that run the plugins' calculators (under their time budget)."""
        self._catalog = Catalog()
        self._lock = threading.Lock()

    @property
    def catalog(self) -> Catalog:
        return self._catalog

    def reload(self) -> Catalog:
        """Load every plugin folder again; a broken one is reported and skipped, or keeps
        serving its previous version if it had one. Parked calculators get a new chance."""
        with self._lock:
            before = self._catalog.plugins
            plugins: dict[str, Plugin] = {}
            problems: dict[str, tuple[Problem, ...]] = {}
            for folder in self._folders():
                try:
                    plugins[folder.name] = load_plugin(folder)
                except ManifestError as e:
                    problems[folder.name] = tuple(e.problems)
                    kept = before.get(folder.name)
                    if kept is not None:
                        plugins[folder.name] = kept
                    log.error(
                        "plugin_invalid",
                        plugin=folder.name,
                        problems=str(e),
                        still_serving=kept.version if kept else None,
                    )
            self._catalog = Catalog(plugins, problems)
            self.workers.unpark()
            log.info("plugins_loaded", serving=sorted(plugins), invalid=sorted(problems))
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
