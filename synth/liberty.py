"""The library and the tools that live only in Debian's archive.

* the Liberty library for area, delay, timing and power: an explicit path
  (`ifmac synth --liberty`, or LIBERTY=path), else the OSU 0.18 um library
  of Debian's `qflow-tech-osu018` package;
* its cell models (`osu018_stdcells.v`, same package) for gate-level
  simulation: CELL_MODELS=path, else the package's;
* OpenSTA for static timing: STA=path, else `sta` on PATH, else Debian's
  `opensta` package.

A package is fetched once into build/<folder>/ with `apt-get download` and
`dpkg -x` (no root needed; both packages are GPL, so they are fetched,
never committed). Where that fails, the caller gets None and one line
saying why, and reports "-" for what needs it.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import tempfile
from pathlib import Path

from ifmac.golden.errors import InputError

__all__ = ["find_liberty", "find_cell_models", "find_sta", "PACKAGE", "LIBRARY_NAME"]

PACKAGE = "qflow-tech-osu018"
LIBRARY_NAME = "osu018_stdcells.lib"
CELL_MODELS_NAME = "osu018_stdcells.v"
_OSU_DIR = Path("usr/share/qflow/tech/osu018")
STA_PACKAGE = "opensta"

BUILD = Path("build")


def fetch_debian(package: str, members: dict[str, Path], cache: Path) -> tuple[bool, str]:
    """Fetch `package` and copy its files `members` (name in cache -> path in
    the package) into `cache`: (done, one line saying what happened)."""
    if not (shutil.which("apt-get") and shutil.which("dpkg")):
        return False, "apt-get and dpkg are not available"
    with tempfile.TemporaryDirectory() as tmp:
        p = subprocess.run(["apt-get", "download", package], cwd=tmp, capture_output=True,
                           text=True)
        debs = sorted(Path(tmp).glob(f"{package}_*.deb"))
        if p.returncode != 0 or not debs:
            why = (p.stderr.strip().splitlines() or ["no .deb downloaded"])[-1]
            return False, f"`apt-get download {package}` failed: {why}"
        root = Path(tmp) / "root"
        p = subprocess.run(["dpkg", "-x", str(debs[0]), str(root)], capture_output=True,
                           text=True)
        missing = [str(m) for m in members.values() if not (root / m).is_file()]
        if p.returncode != 0 or missing:
            return False, f"`dpkg -x` of {debs[0].name} gave no {', '.join(missing) or 'files'}"
        cache.mkdir(parents=True, exist_ok=True)
        for name, member in members.items():
            shutil.copy2(root / member, cache / name)
        (cache / "SOURCE").write_text(f"{debs[0].name} (Debian package {package}, GPL)\n")
    return True, f"fetched {package} into {cache}"


def _osu018(cache: Path) -> tuple[bool, str]:
    """The OSU 0.18 library and its cell models in `cache` (fetched if absent)."""
    if (cache / LIBRARY_NAME).is_file() and (cache / CELL_MODELS_NAME).is_file():
        return True, f"{PACKAGE} in {cache}"
    return fetch_debian(PACKAGE, {n: _OSU_DIR / n for n in (LIBRARY_NAME, CELL_MODELS_NAME)},
                        cache)


def _given(variable: str, explicit: str | None, what: str) -> Path | None:
    given = explicit or os.environ.get(variable)
    if not given:
        return None
    path = Path(given)
    if not path.is_file():
        raise InputError(f"{what} {given!r} does not exist; expected {variable}=path to a file")
    return path.resolve()


def find_liberty(explicit: str | None = None,
                 cache: Path = BUILD / "liberty") -> tuple[Path | None, str]:
    """(path or None, one line saying where it came from or why there is none)."""
    path = _given("LIBERTY", explicit, "Liberty file")
    if path is not None:
        return path, f"Liberty library {path}"
    ok, how = _osu018(cache)
    if not ok:
        return None, (f"no Liberty library ({how}; give LIBERTY=path): "
                      "reporting generic CMOS figures only")
    return (cache / LIBRARY_NAME).resolve(), f"Liberty library OSU 0.18 um ({how})"


def find_cell_models(liberty: Path, cache: Path = BUILD / "liberty") -> tuple[Path | None, str]:
    """Verilog models of `liberty`'s cells: CELL_MODELS=path, else the OSU
    0.18 package's when `liberty` is that library."""
    path = _given("CELL_MODELS", None, "cell models")
    if path is not None:
        return path, f"cell models {path}"
    if Path(liberty).name != LIBRARY_NAME:
        return None, (f"no cell models for {Path(liberty).name} (give CELL_MODELS=path "
                      "to its Verilog models)")
    ok, how = _osu018(cache)
    if not ok:
        return None, f"no cell models ({how}; give CELL_MODELS=path)"
    return (cache / CELL_MODELS_NAME).resolve(), f"cell models {CELL_MODELS_NAME} ({how})"


def find_sta(cache: Path = BUILD / "opensta") -> tuple[Path | None, str]:
    """OpenSTA: STA=path, else `sta` on PATH, else Debian's opensta fetched."""
    path = _given("STA", None, "OpenSTA")
    if path is not None:
        return path, f"OpenSTA {path}"
    on_path = shutil.which("sta")
    if on_path:
        return Path(on_path), f"OpenSTA {on_path}"
    exe = cache / "sta"
    if not exe.is_file():
        ok, how = fetch_debian(STA_PACKAGE, {"sta": Path("usr/bin/sta")}, cache)
        if not ok:
            return None, f"no OpenSTA ({how}; give STA=path)"
    exe.chmod(exe.stat().st_mode | stat.S_IXUSR)
    return exe.resolve(), f"OpenSTA {exe} (Debian {STA_PACKAGE})"
