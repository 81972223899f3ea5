"""cocotb testbench for the MAC: a TB class owning clock and reset, a driver
that plays a per-cycle schedule (valid gaps, resets), a monitor that samples
every result, and an in-order scoreboard against the golden model's values
and the cycle model's cycles.

Environment (set by ifmac.sim.mac_run):
IFMAC_VECTORS  .npz: a, w (N,B) codes; a_scale, w_scale (N,); last (N,);
               cycle schedule valid (T,), reset (T,); expected result, status,
               cycle (M,)
IFMAC_OUTPUT   .npz to write observed result, status, cycle
IFMAC_STOP_AT  optional: stop after this many cycles (waveform re-runs)
"""

import os

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge

from ifmac.golden.vectors import pack_lanes


def _f32(bits: int) -> str:
    return f"{bits:#010x} ({float(np.uint32(bits).view(np.float32))!r})"


class MacTB:
    def __init__(self, dut):
        self.dut = dut
        cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())

    async def reset(self, cycles: int = 2):
        self.dut.rst.value = 1
        self.dut.valid.value = 0
        for _ in range(cycles):
            await FallingEdge(self.dut.clk)
        self.dut.rst.value = 0


class Scoreboard:
    """In-order comparison of observed results with the expected list."""

    def __init__(self, log, data):
        self.log = log
        self.expect = data["result"], data["status"], data["cycle"]
        self.seen = []
        self.first_error = None

    def observe(self, cycle: int, result: int, status: int):
        k = len(self.seen)
        self.seen.append((cycle, result, status))
        if self.first_error is not None:
            return
        if k >= len(self.expect[0]):
            self.first_error = f"unexpected result #{k} at cycle {cycle}: {_f32(result)}"
        else:
            er, es, ec = (int(x[k]) for x in self.expect)
            if (result, status, cycle) != (er, es, ec):
                self.first_error = (f"segment #{k}: expected {_f32(er)} status {es} at cycle {ec}, "
                                    f"got {_f32(result)} status {status} at cycle {cycle}")
        if self.first_error:
            self.log.error(self.first_error)


@cocotb.test()
async def mac_vectors(dut):
    data = np.load(os.environ["IFMAC_VECTORS"])
    bits = int(data["element_bits"])
    a, w = data["a"], data["w"]
    a_words, w_words = pack_lanes(a, bits), pack_lanes(w, bits)
    a_scale, w_scale, last = (data[k].tolist() for k in ("a_scale", "w_scale", "last"))
    valid_sched, reset_sched = data["valid"].tolist(), data["reset"].tolist()
    T = len(valid_sched)
    stop = int(os.environ.get("IFMAC_STOP_AT", T))

    tb = MacTB(dut)
    await tb.reset()
    board = Scoreboard(dut._log, data)
    d = dut
    clk = d.clk
    beat = 0
    rst_now = 0
    for t in range(min(T, stop)):
        await FallingEdge(clk)
        # Monitor: outputs registered at the previous rising edge, i.e. the
        # values visible during cycle t.
        if d.result_valid.value:
            board.observe(t, d.result.value.to_unsigned(), d.status.value.to_unsigned())
        # Driver: inputs for cycle t, sampled at its closing rising edge.
        r = reset_sched[t]
        if r != rst_now:
            d.rst.value = r
            rst_now = r
        if valid_sched[t]:
            d.valid.value = 1
            d.a.value = a_words[beat]
            d.w.value = w_words[beat]
            d.a_scale.value = a_scale[beat]
            d.w_scale.value = w_scale[beat]
            d.last.value = last[beat]
            beat += 1
        else:
            d.valid.value = 0
    seen = np.array(board.seen, dtype=np.int64).reshape(-1, 3)
    np.savez(os.environ["IFMAC_OUTPUT"], cycle=seen[:, 0], result=seen[:, 1].astype(np.uint32),
             status=seen[:, 2].astype(np.uint8))
    assert board.first_error is None, board.first_error
    if stop >= T:
        assert len(board.seen) == len(board.expect[0]), \
            f"{len(board.seen)} results seen, {len(board.expect[0])} expected"
