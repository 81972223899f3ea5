"""The real-model run: golden.model.matmul against the golden mac, the
quantized linear layer's epilogue, fidelity figures, the CLI, and the
decision report's real-model columns."""

import json

import numpy as np
import pytest

import minilm
from ifmac.cli import main
from ifmac.golden import model as mac_mod
from ifmac.golden.codec import dequantize, quantize, rules_for
from ifmac.golden.config import Config
from ifmac.golden.embedding import QDQ, Run, fidelity, quantized_linear, runs
from ifmac.golden.errors import InputError
from ifmac.golden.vectors import Beats, dot_product_beats

MATMUL_CASES = [("if4", "lane", {}), ("if4", "fused", {}), ("if4", "g4", {}),
                ("if4", "exact", {}), ("if4", "fused", {"expansion": "deferred"}),
                ("if4", "exact", {"expansion": "deferred"}), ("if4", "lane", {"interleave": 2}),
                ("nvfp4", "lane", {}), ("nvfp4", "fused", {}), ("nvfp4", "exact", {}),
                ("nvint4", "g2", {}), ("if6_e3m2", "fused", {}), ("if3", "exact", {}),
                ("mxfp4", "lane", {}), ("mxfp4", "g8", {}), ("mxfp6_e2m3", "fused", {})]


def _tensors(fmt, rows, K, rng, seed_scale=1.0):
    x = rng.standard_t(3, (rows, K)).astype(np.float32) * np.float32(seed_scale)
    x[0, :] = 0                                   # a zero row: +0 results
    return quantize(x, fmt, rules_for(fmt)[0])


@pytest.mark.parametrize("fmt,arch,kw", MATMUL_CASES,
                         ids=[f"{f}-{a}-{'-'.join(map(str, k.values()))}" for f, a, k in MATMUL_CASES])
def test_matmul_is_the_golden_mac(fmt, arch, kw, monkeypatch):
    """Element (i, j) of matmul is mac's result for row i of A with row j of
    W: the pairs are laid out as one beat stream, with one more segment of
    another length so that mac runs its general (ragged) accumulation; in
    chunks of a few rows, so that the chunking is checked too."""
    c = Config.make(fmt, arch, **kw)
    B = c.block_size
    rng = np.random.default_rng(len(fmt) * 7 + len(arch))
    M, N, K = 5, 7, 6 * B
    qa, qw = _tensors(fmt, M, K, rng), _tensors(fmt, N, K, rng, 1e3)
    monkeypatch.setattr(mac_mod, "MATMUL_CHUNK_BEATS", 2 * N * (K // B))
    got = mac_mod.matmul(c, qa, qw)
    rows = lambda q, idx: type(q)(q.codes[idx], q.scales[idx], q.amax, q.fmt, q.block_size,
                                  q.rule)
    pairs = dot_product_beats(c, rows(qa, np.repeat(np.arange(M), N)),
                              rows(qw, np.tile(np.arange(N), M)))
    extra = Beats(c, pairs.a[:3], pairs.a_scale[:3], pairs.w[:3], pairs.w_scale[:3],
                  np.array([False, False, True]))
    want = mac_mod.mac(c, pairs.concat(extra))
    assert got.dtype == np.uint32 and got.shape == (M, N)
    np.testing.assert_array_equal(got, want[:-1].reshape(M, N))
    assert (got[0] == 0).all()                    # the zero row: +0


def test_matmul_refuses_other_tensors():
    rng = np.random.default_rng(0)
    qa, qw = _tensors("if4", 2, 32, rng), _tensors("if4", 2, 48, rng)
    with pytest.raises(InputError, match="rows differ in length"):
        mac_mod.matmul(Config.make("if4", "fused"), qa, qw)
    with pytest.raises(InputError, match="expected a 2-D nvfp4 b16 one"):
        mac_mod.matmul(Config.make("nvfp4", "fused"), qa, qa)


@pytest.mark.parametrize("fmt,arch,expansion", [
    ("if4", "fused", "scale"), ("if4", "fused", "deferred"), ("if4", "exact", "deferred"),
    ("nvfp4", "lane", "scale"), ("nvint4", "exact", "scale"), ("mxfp4", "g4", "scale")])
def test_mac_layer_is_the_qdq_layer_up_to_arithmetic(fmt, arch, expansion):
    """The same quantized operands through a MAC and its epilogue (global
    factors, 1/d^2 when deferred) and through quantize-dequantize with a
    float64 matmul differ only by roundings: within 1e-5 of the output's
    scale. A wrong global factor or a missing 1/d^2 is off by far more."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((9, 70)) * 40                            # K padded to 80 / 96
    w = (rng.standard_normal((11, 70)) * 0.02).astype(np.float32)
    b = rng.standard_normal(11).astype(np.float32)
    rule = rules_for(fmt)[0]
    mac_y = quantized_linear(Run(fmt, rule, Config.make(fmt, arch, expansion=expansion)))(
        "layer", x, w, b)
    qdq_y = quantized_linear(Run(fmt, rule))("layer", x, w, b)
    assert mac_y.shape == qdq_y.shape == (9, 11)
    scale = np.abs(qdq_y - b).max()
    assert np.abs(mac_y - qdq_y).max() <= 1e-5 * scale
    # And qdq is the float64 product of the dequantized, padded operands.
    B = 32 if fmt.startswith("mx") else 16
    pad = lambda t: np.pad(t, ((0, 0), (0, -70 % B)))
    deq = lambda t: dequantize(quantize(pad(t.astype(np.float32)), fmt, rule, B)).astype(np.float64)
    np.testing.assert_allclose(qdq_y, deq(x) @ deq(w).T + b, rtol=0, atol=1e-12 * scale)


def test_runs():
    r = runs([("if4", "mse"), ("nvfp4", "mse"), ("mxfp4", "static_6")],
             formats=("if4", "nvfp4", "mxfp4", "nvint4"))
    labels = [x.label for x in r]
    assert labels[:5] == ["if4/mse qdq", "nvfp4/static_6 qdq", "mxfp4/static_6 qdq",
                          "nvint4/static_6 qdq", "nvfp4/mse qdq"]
    assert "if4/mse fused deferred" in labels and "if4/mse exact deferred" in labels
    assert "nvfp4/mse exact" in labels and "nvfp4/mse fused deferred" not in labels
    assert [x.arch for x in r if x.fmt == "mxfp4" and x.arch != QDQ] == ["lane", "fused", "g4"]
    assert len(labels) == len(set(labels)) == 5 + 6 + 4 + 3


def test_fidelity():
    """Cosines with the reference, and nearest-neighbour changes. Reference
    neighbours: 0->1, 1->0, 2->3, 3->2. Moving sentence 0 to (0.6, 0.8, 0)
    makes 2 its nearest (0.8 against 0.685 for 1) and 0 the nearest of 2
    (0.8 against 0.217 for 3): two changes."""
    ref = np.array([[1, 0, 0], [0.9, 0.1, 0], [0, 1, 0], [0, 0.2, 0.9]], dtype=np.float64)
    ref /= np.linalg.norm(ref, axis=1, keepdims=True)
    got = ref.copy()
    got[0] = [0.6, 0.8, 0]
    f = fidelity(Run("if4", "mse"), ref, got)
    assert f.cos_worst == pytest.approx(0.6)
    assert f.cos_mean == pytest.approx(3.6 / 4)
    assert (f.neighbour_changes, f.sentences) == (2, 4)


def test_forward_options_need_model(capsys):
    for argv, message in ((["--forward"], "apply to --model"),
                          (["--sentences", "3"], "apply to --model"),
                          (["--arch", "lane"], "apply to --model"),
                          (["--model", "x.npy", "--arch", "lane"], "apply to --forward")):
        assert main(["accuracy", *argv]) == 2
        assert message in capsys.readouterr().err


@minilm.needed
def test_minilm_end_to_end_slice(tmp_path, capsys):
    """`ifmac accuracy --model MiniLM --forward` on 4 sentences with if4:
    qdq, the fused and the exact MACs in both expansions (matmul's tests
    cover the others; the lane MAC would double the time). Quantizing costs
    accuracy (cosine below 0.999) but keeps the embeddings close (above
    0.9); every MAC stays within 0.98 of the qdq run (measured: 1.000000 but
    for g4, 0.991 on 8 sentences, where a last-bit difference moved an
    activation tensor's amax and so its block scales)."""
    rc = main(["accuracy", "--model", str(minilm.FOLDER), "--forward", "-f", "if4",
               "--arch", "fused", "--arch", "exact", "--sentences", "4", "--jobs", "1",
               "-o", str(tmp_path)])
    out = capsys.readouterr().out
    assert rc == 0 and "4 sentences" in out
    doc = json.loads((tmp_path / "embeddings.json").read_text())
    rows = {(r["arch"], r["expansion"]): r for r in doc["rows"]}
    assert set(rows) == {("qdq", "scale"), ("fused", "scale"), ("exact", "scale"),
                         ("fused", "deferred"), ("exact", "deferred")}
    for r in rows.values():
        assert 0.9 < r["cos_worst"] <= r["cos_mean"] < 0.999 and r["sentences"] == 4
        assert r["weight_sqnr_db"] == pytest.approx(22.06, abs=0.01)
        assert r["arch"] == "qdq" or r["cos_worst_vs_qdq"] > 0.98
    assert main(["accuracy", "--model", str(minilm.FOLDER), "--forward", "--sentences", "500",
                 "-o", str(tmp_path)]) == 2
    assert "--sentences 500; the fixed set has 124" in capsys.readouterr().err


def test_decision_real_model_columns(tmp_path):
    """decision.md shows the real model's figures beside the synthetic ones
    and the cost, and lists every run of embeddings.json with its cost."""
    from ifmac.golden.accuracy import DISTRIBUTIONS, Accuracy
    from ifmac.synth import decision
    real = {"model": "m", "sentences": 4, "tokens": 40, "rows": [
        {"format": "if4", "rule": "mse", "arch": a, "expansion": "scale", "sentences": 4,
         "cos_mean": c, "cos_worst": c - 0.01, "neighbour_changes": 1,
         "cos_worst_vs_qdq": None, "weight_sqnr_db": 22.0, "seconds": 1.0}
        for a, c in (("qdq", 0.97), ("fused", 0.96), ("g4", 0.95))]}
    rec = {"format": "if4", "arch": "fused", "block_size": 16,
           "total": {"area_um2": 3200.0}, "power": None}
    base = dict(rec, format="nvfp4", total={"area_um2": 1600.0})
    costs = {"scale": {("if4", "fused", 16): rec, ("nvfp4", "fused", 16): base}}
    dists = dict.fromkeys(DISTRIBUTIONS, 20.0)
    acc = [Accuracy(Config.make(f, "fused"), r, 256, 8, 20.0, dists, 0.1, 1.0)
           for f, r in (("if4", "mse"), ("nvfp4", "static_6"))]
    if4, nv = decision.join(acc, costs, "area_um2", real)
    assert (if4["real_cos_mean"], if4["real_neighbour_changes"]) == (0.96, 1)
    assert nv["real_cos_mean"] is None
    costed = decision.real_rows(real, costs, "area_um2")
    assert [r["area_per_pair_vs_nvfp4"] for r in costed] == [None, 2.0, None]
    md = decision._markdown([if4, nv], "area_um2", real, costed)
    assert "| if4 | fused | scale | 16 | mse | 20.00 | 0.1000 | 1.000 | 0.96000 | 0.95000 | 1 |" in md
    assert "## A real model end to end (m)" in md
    assert "| if4 | mse | g4 | scale | 0.95000 | 0.94000 | 1 | 22.00 | - | - |" in md
