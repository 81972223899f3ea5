"""pytest-side helpers: run a cocotb module on generated Verilog with vectors,
compare, and on a mismatch repeat the run up to the first failing vector with
waveforms on, so the failure comes with a waveform under build/."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import runner


@dataclass
class SimRun:
    got: dict
    build: runner.Build
    seconds: float
    failures: int
    waveform: Path | None = None


def simulate(top: str, verilog: str, test_module: str, vectors: dict, env: dict, name: str,
             simulator: str | None = None, first_bad=None) -> SimRun:
    """Build `verilog`, write `vectors` to an .npz, run `test_module`.

    `first_bad(got) -> int | None` finds the first mismatching vector in the
    observed outputs; when the run failed, the unit is simulated again with
    waves up to just past that vector."""
    b = runner.build(top, verilog, simulator)
    run_dir = b.directory / f"run-{name}"
    run_dir.mkdir(parents=True, exist_ok=True)
    vec_path, out_path = run_dir / "vectors.npz", run_dir / "output.npz"
    np.savez(vec_path, **vectors)
    if out_path.exists():
        out_path.unlink()
    full_env = dict(env, IFMAC_VECTORS=vec_path, IFMAC_OUTPUT=out_path)
    t0 = time.perf_counter()
    _, failures = runner.run(b, test_module, full_env, name)
    seconds = time.perf_counter() - t0
    got = dict(np.load(out_path)) if out_path.exists() else {}
    result = SimRun(got, b, seconds, failures)
    if failures and first_bad is not None and got:
        i = first_bad(got)
        stop = {} if i is None else {"IFMAC_STOP_AT": i + 1}
        wb = runner.build(top, verilog, simulator, waves=True)
        wave_dir = wb.directory / f"run-{name}-waves"
        wave_dir.mkdir(parents=True, exist_ok=True)
        runner.run(wb, test_module, dict(full_env, IFMAC_OUTPUT=wave_dir / "waves_output.npz",
                                         **stop), f"{name}-waves", waves=True)
        result.waveform = runner.waveform_path(wb, f"{name}-waves")
    return result
