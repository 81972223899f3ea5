"""Find a real standard-cell Liberty library for the area and delay figures.

In order: an explicit path (`ifmac synth --liberty`, or LIBERTY=path), then
the OSU 0.18 um library of Debian's `qflow-tech-osu018` package, fetched
once into build/liberty/ with `apt-get download` and `dpkg -x` (no root
needed; the package is GPL, so it is fetched, never committed). Where
neither works the caller reports the generic CMOS figures alone.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from ifmac.golden.errors import InputError

__all__ = ["find_liberty", "PACKAGE", "LIBRARY_NAME"]

PACKAGE = "qflow-tech-osu018"
LIBRARY_NAME = "osu018_stdcells.lib"
_IN_PACKAGE = Path("usr/share/qflow/tech/osu018") / LIBRARY_NAME


def _fetch_osu018(cache: Path) -> tuple[Path | None, str]:
    if not (shutil.which("apt-get") and shutil.which("dpkg")):
        return None, "apt-get and dpkg are not available"
    with tempfile.TemporaryDirectory() as tmp:
        p = subprocess.run(["apt-get", "download", PACKAGE], cwd=tmp, capture_output=True,
                           text=True)
        debs = sorted(Path(tmp).glob(f"{PACKAGE}_*.deb"))
        if p.returncode != 0 or not debs:
            why = (p.stderr.strip().splitlines() or ["no .deb downloaded"])[-1]
            return None, f"`apt-get download {PACKAGE}` failed: {why}"
        root = Path(tmp) / "root"
        p = subprocess.run(["dpkg", "-x", str(debs[0]), str(root)], capture_output=True,
                           text=True)
        lib = root / _IN_PACKAGE
        if p.returncode != 0 or not lib.exists():
            return None, f"`dpkg -x` of {debs[0].name} gave no {LIBRARY_NAME}"
        cache.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(lib, cache / LIBRARY_NAME)
        (cache / "SOURCE").write_text(f"{debs[0].name} (Debian package {PACKAGE}, GPL)\n")
    return cache / LIBRARY_NAME, f"fetched {PACKAGE} into {cache}"


def find_liberty(explicit: str | None = None,
                 cache: Path = Path("build") / "liberty") -> tuple[Path | None, str]:
    """(path or None, one line saying where it came from or why there is none)."""
    given = explicit or os.environ.get("LIBERTY")
    if given:
        path = Path(given)
        if not path.is_file():
            raise InputError(f"Liberty file {given!r} does not exist; expected a .lib file")
        return path.resolve(), f"Liberty library {path}"
    cached = cache / LIBRARY_NAME
    if cached.is_file():
        return cached.resolve(), f"Liberty library {cached} (OSU 0.18 um, {PACKAGE})"
    path, how = _fetch_osu018(cache)
    if path is None:
        return None, (f"no Liberty library ({how}; give LIBERTY=path): "
                      "reporting generic CMOS figures only")
    return path.resolve(), f"Liberty library {path} (OSU 0.18 um; {how})"
