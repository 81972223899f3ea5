"""Run beat streams through a MAC's Verilog in cocotb and check them against
the golden model (values) and the cycle model (cycles)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ifmac.golden import cycle_model, mac
from ifmac.golden.vectors import Beats
from ifmac.hdl.mac import MAC
from ifmac.hdl.verilog import convert

from .harness import simulate


@dataclass
class Schedule:
    """Per-cycle valid and reset for a beat stream."""
    valid: np.ndarray
    reset: np.ndarray


def schedule(n_beats: int, latency: int, gap: float = 0.0, resets=(), seed: int = 0) -> Schedule:
    """One beat per valid cycle; with probability `gap` 1-3 idle cycles before a
    beat; reset high in the given cycles; idle cycles at the end to drain."""
    rng = np.random.default_rng(seed)
    gaps = np.where(rng.random(n_beats) < gap, rng.integers(1, 4, n_beats), 0)
    T = int(n_beats + gaps.sum()) + latency + 2
    valid = np.zeros(T, dtype=np.uint8)
    valid[np.cumsum(gaps + 1) - 1] = 1
    reset = np.zeros(T, dtype=np.uint8)
    for r in resets:
        if 0 <= r < T:
            reset[r] = 1
    return Schedule(valid, reset)


@dataclass
class MacCheck:
    name: str
    beats: int
    segments: int
    mismatches: int
    seconds: float
    build_seconds: float
    build_cached: bool
    latency: int
    result: np.ndarray
    status: np.ndarray
    cycle: np.ndarray
    expect_result: np.ndarray
    first_error: str | None = None
    waveform: Path | None = None

    @property
    def beats_per_second(self) -> float:
        return self.beats / self.seconds if self.seconds else 0.0


def check(dut: MAC, beats: Beats, sched: Schedule | None = None, name: str = "run",
          simulator: str | None = None) -> MacCheck:
    """Simulate `beats` on `dut`'s Verilog; compare every result, status and cycle."""
    sched = sched or schedule(len(beats), dut.latency)
    # Per-cycle last: the last flag of the beat presented in that cycle.
    beat_at = np.cumsum(sched.valid) - 1
    last_c = np.zeros(len(sched.valid), bool)
    vc = sched.valid.astype(bool)
    last_c[vc] = beats.last[beat_at[vc]]
    cm = cycle_model(vc, last_c, dut.latency, sched.reset.astype(bool))
    kept = cm.kept
    a, a_s, w, w_s, last = (x[kept] for x in beats.arrays())
    exp_r, exp_s = mac(dut.fmt, dut.arch, a, a_s, w, w_s, last, dut.block_size, return_status=True)
    vectors = {"a": beats.a, "w": beats.w, "a_scale": beats.a_scale, "w_scale": beats.w_scale,
               "last": beats.last.astype(np.uint8), "valid": sched.valid, "reset": sched.reset,
               "result": exp_r, "status": exp_s, "cycle": cm.cycle,
               "element_bits": np.int64(dut.fmt.bits)}

    def first_bad(got):
        n = min(len(got["result"]), len(exp_r))
        bad = np.flatnonzero((got["result"][:n] != exp_r[:n]) | (got["cycle"][:n] != cm.cycle[:n]))
        if len(bad):
            return int(max(got["cycle"][bad[0]], cm.cycle[bad[0]])) + 1
        return int(cm.cycle[n]) + 1 if n < len(exp_r) else None

    top = dut.name
    run = simulate(top, convert(dut, top, dut.header()), "ifmac.sim.tb_mac", vectors, {}, name,
                   simulator, first_bad=first_bad)
    got_r = run.got.get("result", np.zeros(0, np.uint32))
    got_c = run.got.get("cycle", np.zeros(0, np.int64))
    got_s = run.got.get("status", np.zeros(0, np.uint8))
    n = min(len(got_r), len(exp_r))
    mism = int(np.count_nonzero((got_r[:n] != exp_r[:n]) | (got_c[:n] != cm.cycle[:n])
                                | (got_s[:n] != exp_s[:n]))) + abs(len(got_r) - len(exp_r))
    err = None
    if mism or run.failures:
        log = (run.build.directory / f"run-{name}" / "sim.log")
        err = next((line.strip() for line in log.read_text().splitlines()
                    if "segment #" in line or "unexpected result" in line), None) \
            if log.exists() else None
        mism = max(mism, 1)
    return MacCheck(top, len(beats), len(exp_r), mism, run.seconds, run.build.seconds,
                    run.build.cached, dut.latency, got_r, got_s, got_c, exp_r, err, run.waveform)
