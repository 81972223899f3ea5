"""cocotb testbench for the MAC (the `cocotb` backend): a TB class owning
clock and reset, a driver that plays the per-cycle records of a stimulus
(valid gaps, resets) and a monitor that records every result. Comparison
with the golden and cycle models happens in Python, in ifmac.sim.mac_run,
the same for every backend.

Environment (set by ifmac.sim.backends):
IFMAC_VECTORS  .npz: records (T, 3 + 2*code_bytes) uint8, as
               ifmac.sim.stimulus.cycle_records writes them
IFMAC_OUTPUT   .npz to write the observed result, status, cycle to
IFMAC_STOP_AT  optional: stop after this many cycles (waveform re-runs)
"""

import os

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge

from ifmac.sim.stimulus import FLAG_LAST, FLAG_RESET, FLAG_VALID, records_as_ints


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


@cocotb.test()
async def mac_records(dut):
    flags, a_scale, w_scale, a, w = records_as_ints(np.load(os.environ["IFMAC_VECTORS"])["records"])
    T = len(flags)
    stop = min(T, int(os.environ.get("IFMAC_STOP_AT", T)))

    tb = MacTB(dut)
    await tb.reset()
    d = dut
    seen = []
    rst_now = 0
    for t in range(stop):
        await FallingEdge(d.clk)
        # Monitor: outputs registered at the previous rising edge, i.e. the
        # values visible during cycle t.
        if d.result_valid.value:
            seen.append((t, d.result.value.to_unsigned(), d.status.value.to_unsigned()))
        # Driver: inputs for cycle t, sampled at its closing rising edge.
        f = flags[t]
        r = 1 if f & FLAG_RESET else 0
        if r != rst_now:
            d.rst.value = r
            rst_now = r
        if f & FLAG_VALID:
            d.valid.value = 1
            d.a.value = a[t]
            d.w.value = w[t]
            d.a_scale.value = a_scale[t]
            d.w_scale.value = w_scale[t]
            d.last.value = 1 if f & FLAG_LAST else 0
        else:
            d.valid.value = 0
    out = np.array(seen, dtype=np.int64).reshape(-1, 3)
    np.savez(os.environ["IFMAC_OUTPUT"], cycle=out[:, 0], result=out[:, 1].astype(np.uint32),
             status=out[:, 2].astype(np.uint8))
