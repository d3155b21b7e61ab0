"""Build hook: every wheel carries a release manifest (SHA-256 of each file of its packages) that
``gxpscan selftest`` checks the installed files against. Everything else is in pyproject.toml."""
from __future__ import annotations

import importlib.util
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py


def _selftest_module():  # type: ignore[no-untyped-def]
    """scanner/selftest/manifest.py loaded on its own: the build runs before the package's dependencies exist."""
    spec = importlib.util.spec_from_file_location("_gxpscan_release",
                                                  Path(__file__).parent / "scanner" / "selftest" / "manifest.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class BuildWithManifest(build_py):
    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return  # an editable install runs from the source tree: selftest reports a development install
        selftest = _selftest_module()
        root = Path(self.build_lib)
        version = self.distribution.get_version()
        (root / "scanner" / "selftest" / selftest.MANIFEST_NAME).write_bytes(
            selftest.manifest_document(selftest.file_hashes(root), version))


setup(cmdclass={"build_py": BuildWithManifest})
