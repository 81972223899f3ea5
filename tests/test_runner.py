"""sim/runner.py: where cocotb builds go and which simulator it runs."""

from pathlib import Path

import pytest

from ifmac.golden.errors import InputError
from ifmac.sim import runner


def test_default_simulator_from_the_environment(monkeypatch):
    monkeypatch.delenv("IFMAC_COCOTB_SIM", raising=False)
    assert runner.default_simulator() == "verilator"
    monkeypatch.setenv("IFMAC_COCOTB_SIM", "icarus")
    assert runner.default_simulator() == "icarus"
    monkeypatch.setenv("IFMAC_COCOTB_SIM", "xsim")
    with pytest.raises(InputError, match="unknown simulator 'xsim'"):
        runner.default_simulator()


def test_build_root(monkeypatch, tmp_path):
    monkeypatch.setenv("IFMAC_BUILD_DIR", str(tmp_path / "b"))
    assert runner.build_root() == (tmp_path / "b").resolve()
    monkeypatch.delenv("IFMAC_BUILD_DIR")
    assert runner.build_root() == Path("build", "sim").resolve()
