"""The wheel carries the migrations and the specialty plugins inside the package.

They live at the top of the repository (the layout is fixed), outside the `backend` package, so
a plain `pip install .` (the container image, infrastructure/Dockerfile) would leave them
behind. The build copies them into `backend/shipped/`, where `backend.shipped` finds them when
there is no checkout around the package. Everything else is in pyproject.toml.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

SHIPPED = ("migrations", "plugins")


class BuildWithShippedFolders(build_py):
    def run(self) -> None:
        super().run()
        for folder in SHIPPED:
            target = Path(self.build_lib) / "backend" / "shipped" / folder
            shutil.rmtree(target, ignore_errors=True)
            shutil.copytree(folder, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))


setup(cmdclass={"build_py": BuildWithShippedFolders})
