"""The default evaluation corpus: Debian's Python 3.11 reST sources, installed with apt-get when missing."""

from __future__ import annotations

from pathlib import Path

PYTHON_DOCS = Path("/usr/share/doc/python3.11/html/_sources")
PYTHON_DOCS_PACKAGE = "python3.11-doc"


def python_docs(folder: Path = PYTHON_DOCS, install: list[str] | None = None) -> Path:
    """The default LM corpus, Debian's Python 3.11 reST sources, installed with apt when missing.

    ``install`` is the install command; by default apt-get, when this process may run it."""
    import os
    import shutil
    import subprocess

    from assistant.errors import ConfigError

    if folder.is_dir():
        return folder
    hint = f"install Debian's {PYTHON_DOCS_PACKAGE} or pass a folder of documents"
    if install is None:
        if not shutil.which("apt-get") or os.geteuid() != 0:
            raise ConfigError(f"{folder} is missing: {hint}.")
        install = ["apt-get", "install", "-y", "-q", PYTHON_DOCS_PACKAGE]
    done = subprocess.run(install, capture_output=True, text=True)
    if done.returncode != 0 or not folder.is_dir():
        last = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
        raise ConfigError(f"could not install {PYTHON_DOCS_PACKAGE} ({last[0]}): {hint}.")
    return folder
