"""The `ifmac` command line: outputs, and one-line errors with exit code 2."""

import subprocess
import sys

import numpy as np
import pytest

from ifmac.cli import main
from ifmac.golden import Config, mac, quantize
from ifmac.golden.vectors import Beats


def run(argv, capsys):
    rc = main(argv)
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_quantize_roundtrip(tmp_path, capsys):
    x = np.random.default_rng(0).standard_normal((8, 64)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    rc, out, _ = run(["quantize", str(tmp_path / "x.npy"), "--format", "if4", "--rule", "mae",
                      "-o", str(tmp_path / "q.npz")], capsys)
    assert rc == 0 and "if4 (mae, B=16): 512 elements, 32 blocks" in out
    d = np.load(tmp_path / "q.npz")
    q = quantize(x, "if4", "mae")
    assert np.array_equal(d["codes"], q.codes) and np.array_equal(d["scales"], q.scales)
    assert d["amax"] == q.amax and str(d["format"]) == "if4" and int(d["block_size"]) == 16


def test_quantize_mx_defaults_to_its_block_size(tmp_path, capsys):
    """An MX format quantizes in blocks of 32 unless told otherwise; a rule
    it does not have exits 2 naming both."""
    x = np.random.default_rng(1).standard_normal((4, 64)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    rc, out, _ = run(["quantize", str(tmp_path / "x.npy"), "-f", "mxfp4", "-r", "static_4",
                      "-o", str(tmp_path / "q.npz")], capsys)
    assert rc == 0 and "mxfp4 (static_4, B=32): 256 elements, 8 blocks, amax 1" in out
    q = quantize(x, "mxfp4", "static_4", 32)
    d = np.load(tmp_path / "q.npz")
    assert np.array_equal(d["codes"], q.codes) and np.array_equal(d["scales"], q.scales)
    rc, _, err = run(["quantize", str(tmp_path / "x.npy"), "-f", "mxfp4", "-r", "mse",
                      "-o", str(tmp_path / "q.npz")], capsys)
    assert rc == 2 and "rule 'mse' does not apply to format mxfp4; expected static_6 or " \
        "static_4" in err


def test_accuracy_without_synthesis(tmp_path, capsys):
    """`accuracy` measures every rule and arch; with no area.json the cost
    columns are "-" with the reason, never a made-up figure."""
    rc, out, _ = run(["accuracy", "-f", "if4", "-f", "mxfp4", "--rows", "2", "--k", "256",
                      "--synth", str(tmp_path / "none"), "-o", str(tmp_path)], capsys)
    assert rc == 0 and "area.json not found" in out
    md = (tmp_path / "decision.md").read_text()
    assert "| if4 | fused | 16 | mse |" in md and "| mxfp4 | lane | 32 | static_6 |" in md
    assert "no synthesis record (run `make synth`)" in md and "| mxfp4 | static_4 |" in md
    import json
    rows = json.loads((tmp_path / "decision.json").read_text())["rows"]
    assert len(rows) == 2 * (3 + 2) and all(r["area_per_pair"] is None for r in rows)
    assert not (tmp_path / "decision.png").exists()
    rc, _, err = run(["accuracy", "--k", "100", "-o", str(tmp_path)], capsys)
    assert rc == 2 and "--k 100; expected a multiple of 32" in err


def test_vectors_npz_and_hex(tmp_path, capsys):
    rc, out, _ = run(["vectors", "-f", "if6_e3m2", "-a", "fused", "-b", "8", "-n", "300",
                      "-s", "4", "-o", str(tmp_path / "v.npz"), "--hex", str(tmp_path / "hex")],
                     capsys)
    assert rc == 0
    d = np.load(tmp_path / "v.npz")
    assert d["a"].shape == (300, 8) and d["a"].dtype == np.uint8
    assert d["a_scale"].shape == (300,) and d["last"].dtype == bool and d["last"][-1]
    assert d["result"].dtype == np.uint32 and len(d["result"]) == d["last"].sum()
    # The expected results are the golden model's for the stored beats.
    c = Config.make("if6_e3m2", "fused", 8)
    ref = mac(c, Beats(c, d["a"], d["a_scale"], d["w"], d["w_scale"], d["last"]))
    assert np.array_equal(d["result"], ref)
    # Hex: element i at bits [6i +: 6] of each a line; results one per line.
    a_lines = (tmp_path / "hex" / "a.hex").read_text().split()
    assert len(a_lines) == 300 and len(a_lines[0]) == 12
    v = int(a_lines[7], 16)
    assert [(v >> (6 * i)) & 63 for i in range(8)] == d["a"][7].tolist()
    res = [int(s, 16) for s in (tmp_path / "hex" / "result.hex").read_text().split()]
    assert res == d["result"].tolist()
    assert "layout of the MAC's `a` and `w` input ports" in (tmp_path / "hex" / "README.txt").read_text()


def test_vectors_mix_flags_and_corners(tmp_path, capsys):
    """Random vectors cover every INT/FP flag pair and the corner scales."""
    run(["vectors", "-f", "if4", "-a", "lane", "-n", "4000", "-o", str(tmp_path / "v.npz")], capsys)
    d = np.load(tmp_path / "v.npz")
    pairs = set(zip(d["a_scale"] >> 7, d["w_scale"] >> 7))
    assert pairs == {(0, 0), (0, 1), (1, 0), (1, 1)}
    payloads = set((d["a_scale"] & 0x7F).tolist())
    assert {0x00, 0x01, 0x7E, 0x7F} <= payloads
    lengths = np.diff(np.r_[-1, np.flatnonzero(d["last"])])
    assert lengths.min() == 1 and lengths.max() > 64


@pytest.mark.parametrize("argv,message", [
    (["vectors", "-f", "if5", "-a", "lane", "-o", "x.npz"], "invalid choice: 'if5'"),
    (["vectors", "-f", "if4", "-a", "tree", "-o", "x.npz"], "invalid choice: 'tree'"),
    (["vectors", "-f", "if4", "-a", "lane", "-b", "12", "-o", "x.npz"],
     "block_size must be one of 8, 16, 32, not 12"),
    (["vectors", "-f", "if4", "-a", "lane", "-n", "0", "-o", "x.npz"],
     "expected a positive integer, not 0"),
    (["quantize", "x.npy", "-f", "if4", "--rule", "l2", "-o", "q.npz"], "invalid choice: 'l2'"),
])
def test_bad_arguments_exit_2(argv, message, capsys):
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize("content,message", [
    (np.ones((3, 10), np.float32), "last dimension of shape (3, 10) is 10, not a positive multiple"),
    (np.array([[np.nan] + [1.0] * 15], np.float32), "input has NaN at index (0, 0)"),
    (np.array([[1.0] * 15 + [np.inf]], np.float32), "input has Inf at index (0, 15)"),
])
def test_bad_tensor_exit_2(tmp_path, capsys, content, message):
    np.save(tmp_path / "x.npy", content)
    rc, out, err = run(["quantize", str(tmp_path / "x.npy"), "-f", "if4", "-o",
                        str(tmp_path / "q.npz")], capsys)
    assert rc == 2 and message in err and err.count("\n") == 1 and "Traceback" not in err


def test_rule_that_does_not_apply_exit_2(tmp_path, capsys):
    """`--rule mse` on nvfp3 (four-over-six is nvfp4's) is refused, not ignored."""
    np.save(tmp_path / "x.npy", np.ones((2, 16), np.float32))
    rc, _, err = run(["quantize", str(tmp_path / "x.npy"), "-f", "nvfp3", "--rule", "mse",
                      "-o", str(tmp_path / "q.npz")], capsys)
    assert rc == 2 and "rule 'mse' does not apply to format nvfp3; expected static_6" in err
    assert not (tmp_path / "q.npz").exists()


def test_missing_file_exit_2(tmp_path, capsys):
    rc, _, err = run(["quantize", str(tmp_path / "nope.npy"), "-f", "if4", "-o",
                      str(tmp_path / "q.npz")], capsys)
    assert rc == 2 and "cannot read" in err and "nope.npy" in err


def test_console_script_no_traceback(tmp_path):
    """The installed `ifmac` entry point: one line on stderr, exit 2."""
    np.save(tmp_path / "x.npy", np.ones((2, 7), np.float32))
    p = subprocess.run([sys.executable, "-m", "ifmac", "quantize", str(tmp_path / "x.npy"),
                        "-f", "nvfp4", "-o", str(tmp_path / "q.npz")],
                       capture_output=True, text=True)
    assert p.returncode == 2 and "Traceback" not in p.stderr
    assert p.stderr.startswith("ifmac quantize: error: last dimension")


def test_run_native_and_amaranth(tmp_path, capsys):
    """`ifmac run` on a user's .npz: observed arrays written, verdict printed;
    the native and Amaranth backends observe the same."""
    run(["vectors", "-f", "if3", "-a", "fused", "-b", "8", "-n", "300", "-s", "2",
         "-o", str(tmp_path / "v.npz")], capsys)
    outs = {}
    for sim in ("verilator", "amaranth"):
        rc, out, _ = run(["run", "-f", "if3", "-a", "fused", "-b", "8", "--vectors",
                          str(tmp_path / "v.npz"), "-o", str(tmp_path / f"{sim}.npz"),
                          "--simulator", sim], capsys)
        assert rc == 0 and f"on {sim}: 300 beats" in out and "match the golden model" in out
        outs[sim] = np.load(tmp_path / f"{sim}.npz")
    d = np.load(tmp_path / "v.npz")
    assert np.array_equal(outs["verilator"]["result"], d["result"])
    for k in ("result", "cycle", "status"):
        assert np.array_equal(outs["verilator"][k], outs["amaranth"][k])


def test_testbench_command(tmp_path, capsys):
    rc, out, _ = run(["testbench", "-f", "nvfp4", "-a", "lane", "-b", "8", "--beats", "200",
                      "--gap", "0.2", "--reset", "50", "-o", str(tmp_path / "tb")], capsys)
    assert rc == 0 and "ifmac_nvfp4_lane_b8: 200 beats" in out
    tb = (tmp_path / "tb" / "tb.sv").read_text()
    assert "module tb;" in tb and "$fatal" in tb and "import \"DPI" not in tb
    cycles = (tmp_path / "tb" / "cycles.hex").read_text().split()
    flags = [int(c, 16) >> (2 * 32 + 16) for c in cycles]
    assert sum(f & 1 for f in flags) == 200 and flags[50] & 4


@pytest.mark.parametrize("argv,message", [
    (["sim", "--shard", "3/2"], "expected K/N with 1 <= K <= N, not '3/2'"),
    (["sim", "--shard", "x"], "expected K/N with integers, not 'x'"),
    (["run", "-f", "if4", "-a", "lane", "-o", "o.npz"],
     "one of the arguments --vectors --beats/-n is required"),
    (["run", "-f", "if4", "-a", "lane", "-n", "5", "--simulator", "xsim", "-o", "o.npz"],
     "invalid choice: 'xsim'"),
    (["testbench", "-f", "if4", "-a", "lane", "-n", "5", "--gap", "1.5", "-o", "d"],
     "expected a number from 0 to below 1, not 1.5"),
])
def test_bad_simulation_arguments_exit_2(argv, message, capsys):
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 2 and message in capsys.readouterr().err


def test_merge_bad_summary_exit_2(tmp_path, capsys):
    (tmp_path / "s.json").write_text("{}")
    rc, _, err = run(["merge", str(tmp_path / "s.json")], capsys)
    assert rc == 2 and "is not an `ifmac sim` summary" in err


def test_internal_error_keeps_its_traceback(monkeypatch, tmp_path):
    """Only InputError is a usage error; any other ValueError is a bug and
    propagates with its traceback."""
    from ifmac.golden import codec

    def broken(*args, **kwargs):
        raise ValueError("internal invariant broken")
    monkeypatch.setattr(codec, "quantize", broken)
    np.save(tmp_path / "x.npy", np.ones((2, 16), np.float32))
    with pytest.raises(ValueError, match="internal invariant broken"):
        main(["quantize", str(tmp_path / "x.npy"), "-f", "if4", "-o", str(tmp_path / "q.npz")])
