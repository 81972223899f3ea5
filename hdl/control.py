"""What every MAC stage family shares (ifmac.hdl.mac, ifmac.hdl.kulisch):
the control a stage with latency carries beside its data, and a beat's
status flags (docs/contract.md §5)."""

from __future__ import annotations

from amaranth import Module
from amaranth.lib.wiring import In, Out

from ifmac.golden.formats import E8M0_NAN, SCALE_NAN_PAYLOAD, Format
from ifmac.golden.model import STATUS_WIDTH, Status

__all__ = ["CONTROL", "with_control", "beat_status"]

#: The control a stage carries with its data when it has latency of its
#: own; it leaves as out_<name>.
CONTROL = {"valid": 1, "last": 1, "status": STATUS_WIDTH}


def with_control(ports: dict) -> dict:
    """`ports` plus the control in and (out_<name>) out."""
    return ({n: In(w) for n, w in CONTROL.items()} | ports
            | {f"out_{n}": Out(w) for n, w in CONTROL.items()})


def beat_status(m: Module, fmt: Format, a_scale, w_scale, status) -> None:
    """Drive `status` with the beat's flags: a NaN scale code on either side
    (E4M3 payload 0x7F, E8M0 0xFF), an INT flag on a format without INT."""
    if fmt.scale.power_of_two:
        nan = (a_scale == E8M0_NAN) | (w_scale == E8M0_NAN)
    else:
        nan = (a_scale[:7] == SCALE_NAN_PAYLOAD) | (w_scale[:7] == SCALE_NAN_PAYLOAD)
    m.d.comb += status[Status.SCALE_NAN_PAYLOAD.bit].eq(nan)
    if fmt.flag_reserved:
        m.d.comb += status[Status.INT_FLAG_ON_FP_FORMAT.bit].eq(a_scale[7] | w_scale[7])
