"""Run beat streams through a MAC on any backend and check them: the one
comparator of observed results against the golden model (values, status)
and the cycle model (cycles).

`check` runs one in-memory stimulus and keeps the observed arrays;
`check_stream` runs any number of stimulus chunks (millions of beats) and
keeps only the counts, with golden model and simulation overlapping on the
native backend. Either writes a waveform of the first failure.
"""

from __future__ import annotations

import collections
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

import numpy as np

from ifmac.golden.vectors import Beats
from ifmac.hdl.mac import MAC

from .backends import Backend, get_backend
from .stimulus import Results, Schedule, Stimulus, expected, schedule

__all__ = ["Comparison", "compare", "MacCheck", "check", "check_stream", "Schedule", "schedule"]


def _f32(bits: int) -> str:
    return f"{int(bits):#010x} ({float(np.uint32(bits).view(np.float32))!r})"


@dataclass
class Comparison:
    mismatches: int
    first_error: str | None = None
    #: Cycle just past which the first mismatch shows (for a waveform).
    first_bad_cycle: int | None = None


def compare(exp: Results, obs: Results, segment_offset: int = 0) -> Comparison:
    """In-order comparison of every observed result with the expected one:
    value, status and cycle. A missing or extra result is one mismatch each."""
    n = min(len(exp), len(obs))
    bad = np.flatnonzero((obs.result[:n] != exp.result[:n]) | (obs.status[:n] != exp.status[:n])
                         | (obs.cycle[:n] != exp.cycle[:n]))
    mism = len(bad) + abs(len(exp) - len(obs))
    if not mism:
        return Comparison(0)
    if len(bad):
        k = int(bad[0])
        msg = (f"segment #{segment_offset + k}: expected {_f32(exp.result[k])} status "
               f"{int(exp.status[k])} at cycle {int(exp.cycle[k])}, got {_f32(obs.result[k])} "
               f"status {int(obs.status[k])} at cycle {int(obs.cycle[k])}")
        cycle = int(max(exp.cycle[k], obs.cycle[k]))
    elif len(exp) > n:
        msg = (f"segment #{segment_offset + n}: expected {_f32(exp.result[n])} at cycle "
               f"{int(exp.cycle[n])}, no result seen ({len(exp) - n} missing)")
        cycle = int(exp.cycle[n])
    else:
        msg = (f"unexpected result #{segment_offset + n} at cycle {int(obs.cycle[n])}: "
               f"{_f32(obs.result[n])} ({len(obs) - n} extra)")
        cycle = int(obs.cycle[n])
    return Comparison(mism, msg, cycle)


@dataclass
class MacCheck:
    name: str
    backend: str
    beats: int
    segments: int
    mismatches: int
    seconds: float
    build_seconds: float
    build_cached: bool
    latency: int
    first_error: str | None = None
    waveform: Path | None = None
    #: Observed and expected arrays, kept by `check` (not by `check_stream`).
    observed: Results | None = None
    expected: Results | None = None
    chunks: int = 0
    extra: dict = field(default_factory=dict)

    @property
    def beats_per_second(self) -> float:
        return self.beats / self.seconds if self.seconds else 0.0

    # Shorthands for the observed arrays.
    @property
    def result(self) -> np.ndarray:
        return self.observed.result

    @property
    def status(self) -> np.ndarray:
        return self.observed.status

    @property
    def cycle(self) -> np.ndarray:
        return self.observed.cycle


def check_stream(dut: MAC, stimuli: Iterable[Stimulus], name: str = "run",
                 backend: "str | Backend | None" = None, keep: bool = False,
                 waves: bool = True
                 ) -> MacCheck:
    """Simulate every stimulus chunk on `backend` and compare each with the
    golden and cycle models. One chunk is kept in flight: the backend
    simulates chunk k while the golden model computes it and the next one is
    built. `keep` keeps the observed arrays (single-chunk runs); `waves`
    replays the first failing chunk with tracing."""
    be = get_backend(backend, dut)
    info = be.build()
    beats = segments = mismatches = chunks = 0
    first_error, waveform = None, None
    kept: list = []
    pending: collections.deque = collections.deque()
    t0 = time.perf_counter()

    def settle(session):
        nonlocal beats, segments, mismatches, chunks, first_error, waveform
        stim, exp = pending.popleft()
        obs = session.result()
        cmp = compare(exp, obs, segments)
        if cmp.mismatches and first_error is None:
            first_error = f"chunk {chunks}: {cmp.first_error}" if chunks else cmp.first_error
            if waves:
                waveform = be.waveform(stim, cmp.first_bad_cycle, f"{name}-fail")
        mismatches += cmp.mismatches
        beats += len(stim.beats)
        segments += len(exp)
        chunks += 1
        if keep:
            kept.append((exp, obs))

    with be.session() as session:
        for stim in stimuli:
            session.submit(stim)
            pending.append((stim, expected(dut.config, stim)))
            while len(pending) > 1:
                settle(session)
        while pending:
            settle(session)
    seconds = time.perf_counter() - t0
    out = MacCheck(dut.name, be.name, beats, segments, mismatches, seconds, info.seconds,
                   info.cached, dut.latency, first_error, waveform, chunks=chunks)
    if keep:
        out.expected = _concat([e for e, _ in kept])
        out.observed = _concat([o for _, o in kept])
    return out


def _concat(parts: list[Results]) -> Results:
    """Results of several chunks in one (cycles stay per chunk)."""
    return Results(*(np.concatenate([getattr(p, k) for p in parts])
                     for k in ("result", "status", "cycle")))


def check(dut: MAC, beats: Beats, sched: Schedule | None = None, name: str = "run",
          backend: str | None = None) -> MacCheck:
    """Simulate `beats` (played by `sched`, default one beat per cycle) and
    compare every result, status and cycle; the observed arrays are kept."""
    stim = Stimulus(beats, sched or schedule(len(beats), dut.latency))
    return check_stream(dut, [stim], name, backend, keep=True)
