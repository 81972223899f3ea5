"""What every simulation backend is given and what it is checked against.

A `Stimulus` is a beat stream (`Beats`) with its cycle schedule (`Schedule`:
per cycle, valid and reset). `expected` gives the golden model's results
and status of the segments that complete, and the cycle model's cycle of
each; `cycle_records` is the per-cycle form every backend drives (one record
per clock: flags, scale bytes, packed codes).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ifmac.golden import Config, cycle_model, mac
from ifmac.golden.errors import InputError
from ifmac.golden.vectors import Beats

__all__ = ["Schedule", "schedule", "Stimulus", "Results", "expected", "pack_codes",
           "records_as_ints",
           "cycle_records", "FLAG_VALID", "FLAG_LAST", "FLAG_RESET"]

#: Bits of a cycle record's flags byte (native harness, exported testbench).
FLAG_VALID, FLAG_LAST, FLAG_RESET = 1, 2, 4


@dataclass
class Schedule:
    """Per-cycle valid and reset (synchronous, active high) for a beat stream:
    the k-th valid cycle presents beat k."""
    valid: np.ndarray
    reset: np.ndarray

    def __len__(self) -> int:
        return len(self.valid)


def schedule(n_beats: int, latency: int, gap: float = 0.0, resets=(), seed: int = 0) -> Schedule:
    """One beat per valid cycle; with probability `gap` 1-3 idle cycles before a
    beat; reset high in the given cycles; `latency` + 2 idle cycles at the end,
    so that every result leaves within the schedule."""
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
class Stimulus:
    """A beat stream and the schedule that plays it."""
    beats: Beats
    sched: Schedule

    def __post_init__(self):
        n_valid = int(np.count_nonzero(self.sched.valid))
        if n_valid != len(self.beats):
            raise InputError(f"the schedule has {n_valid} valid cycles for {len(self.beats)} "
                             "beats; expected one valid cycle per beat")

    @property
    def cycles(self) -> int:
        return len(self.sched)

    @property
    def config(self) -> Config:
        """The configuration the beats were made for."""
        return self.beats.config

    def last_per_cycle(self) -> np.ndarray:
        """The `last` input of every cycle (that of the beat it presents)."""
        valid = self.sched.valid.astype(bool)
        out = np.zeros(len(valid), bool)
        out[valid] = self.beats.last
        return out


@dataclass
class Results:
    """Segment results in order, with the cycle (within the stimulus) at which
    each is valid at the outputs: what the golden and cycle models expect
    (`expected`), or what a simulation backend observed."""
    result: np.ndarray
    status: np.ndarray
    cycle: np.ndarray

    @classmethod
    def from_arrays(cls, cycle, result, status) -> "Results":
        return cls(np.asarray(result, np.uint32), np.asarray(status, np.uint8),
                   np.asarray(cycle, np.int64))

    def __len__(self) -> int:
        return len(self.result)


def expected(config: Config, stim: Stimulus) -> Results:
    """The golden model's results and the cycle model's cycles for `stim`."""
    valid = stim.sched.valid.astype(bool)
    cm = cycle_model(valid, stim.last_per_cycle(), config.latency, stim.sched.reset.astype(bool))
    kept = Beats(stim.config, *(x[cm.kept] for x in stim.beats.arrays()))
    result, status = mac(config, kept, return_status=True)
    return Results.from_arrays(cm.cycle, result, status)


def pack_codes(codes: np.ndarray, bits: int) -> np.ndarray:
    """(N, B) codes -> (N, ceil(B*bits/8)) bytes, element i at bits
    [bits*i +: bits], least significant byte first: the MAC's `a`/`w` port
    as little-endian bytes."""
    codes = np.asarray(codes)
    n, B = codes.shape
    words = np.zeros((n, (B * bits + 63) // 64 + 1), dtype=np.uint64)
    for i in range(B):
        pos = bits * i
        word, shift = divmod(pos, 64)
        c = codes[:, i].astype(np.uint64)
        words[:, word] |= c << np.uint64(shift)
        if shift + bits > 64:
            words[:, word + 1] |= c >> np.uint64(64 - shift)
    return words.view(np.uint8)[:, :(B * bits + 7) // 8]


def records_as_ints(rec: np.ndarray) -> tuple[list, list, list, list, list]:
    """Cycle records as Python ints per cycle: flags, a_scale, w_scale, a, w
    (for the backends that drive ports from Python)."""
    nb = (rec.shape[1] - 3) // 2
    return (rec[:, 0].tolist(), rec[:, 1].tolist(), rec[:, 2].tolist(),
            [int.from_bytes(r.tobytes(), "little") for r in rec[:, 3:3 + nb]],
            [int.from_bytes(r.tobytes(), "little") for r in rec[:, 3 + nb:]])


def cycle_records(stim: Stimulus, start: int = 0, stop: int | None = None,
                  first_beat: int | None = None) -> np.ndarray:
    """(T, 3 + 2*code_bytes) uint8: per cycle the flags (FLAG_VALID,
    FLAG_LAST, FLAG_RESET), a_scale, w_scale, packed a, packed w. Idle
    cycles carry zero data. `start`/`stop` select a range of cycles;
    `first_beat`, the number of beats before `start`, saves counting them."""
    f = stim.config.format
    stop = stim.cycles if stop is None else min(stop, stim.cycles)
    valid = stim.sched.valid[start:stop].astype(bool)
    if first_beat is None:
        first_beat = int(np.count_nonzero(stim.sched.valid[:start]))
    beats = slice(first_beat, first_beat + int(np.count_nonzero(valid)))
    a = pack_codes(stim.beats.a[beats], f.bits)
    nb = (stim.beats.a.shape[1] * f.bits + 7) // 8
    last = np.zeros(len(valid), bool)
    last[valid] = stim.beats.last[beats]
    rec = np.zeros((len(valid), 3 + 2 * nb), dtype=np.uint8)
    rec[:, 0] = (valid * FLAG_VALID | last * FLAG_LAST
                 | stim.sched.reset[start:stop].astype(bool) * FLAG_RESET)
    rec[valid, 1] = stim.beats.a_scale[beats]
    rec[valid, 2] = stim.beats.w_scale[beats]
    rec[valid, 3:3 + nb] = a
    rec[valid, 3 + nb:] = pack_codes(stim.beats.w[beats], f.bits)
    return rec
