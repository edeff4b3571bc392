"""Scratch virtual environments for the example plugins in examples/plugins/.

An example is installed with pip into a scratch environment layered on this one (the test
environment is never changed, even if a test dies half-way): no network, no build isolation, no
dependencies fetched.
"""

from __future__ import annotations

import os
import shutil
import site
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "plugins"


class ScratchEnv:
    """A virtual environment that sees this interpreter's packages plus what is installed in it."""

    def __init__(self, root: Path) -> None:
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root)], check=True)
        self.python = root / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
        own = self.run("-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])").stdout.strip()
        # Lines starting with "import" in a .pth file are executed: addsitedir also processes the
        # parent's own .pth files, so its editable install of ganaug is visible too.
        on_path = [p for p in sys.path if p.endswith(("site-packages", "dist-packages"))]
        dirs = [*site.getsitepackages(), *on_path]
        parents = "".join(f"import site; site.addsitedir({path!r})\n" for path in dict.fromkeys(dirs))
        (Path(own) / "_parent_env.pth").write_text(parents)

    def run(self, *args: str, cwd: Path | None = None, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.python), *args],
            cwd=cwd,
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONNOUSERSITE": "1", **env},
            check=False,
        )


def install_example(name: str, root: Path) -> tuple[ScratchEnv, Path]:
    """Copy ``examples/plugins/<name>`` under ``root`` (so no build files land in the repository)
    and pip-install the copy into a fresh scratch environment; returns the env and the copy."""
    pytest.importorskip("setuptools", reason="building without isolation needs setuptools in this env")
    source = root / name
    ignore = shutil.ignore_patterns("build", "*.egg-info", "__pycache__", ".pytest_cache")
    shutil.copytree(EXAMPLES / name, source, ignore=ignore)
    env = ScratchEnv(root / "venv")
    done = env.run(
        "-m",
        "pip",
        "install",
        "--no-deps",
        "--no-build-isolation",
        "--no-index",
        "--disable-pip-version-check",
        "--quiet",
        str(source),
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return env, source


def run_own_tests(env: ScratchEnv, source: Path) -> subprocess.CompletedProcess[str]:
    """The example's own tests, against the installed package (its ``src`` is removed first)."""
    shutil.rmtree(source / "src", ignore_errors=True)
    return env.run("-m", "pytest", "-q", "-p", "no:cacheprovider", cwd=source)
