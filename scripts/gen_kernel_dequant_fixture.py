#!/usr/bin/env python3
"""Writes fixtures/ckernels_dequant_gguf_0.19.0.json: random ggml blocks of every type the C
kernels dequantize and gguf-python's (0.19.0) dequantization of them, as float32 bit patterns.
CKernelsFormatTests checks ss_dequantize_row against it bit for bit."""
import json, sys
import numpy as np
import gguf
from gguf import GGMLQuantizationType as T
from gguf.quants import dequantize

assert gguf.__version__ if hasattr(gguf, "__version__") else True
# f16 fields (byte offsets in a block) that hold scales/mins: given sane random values.
F16_FIELDS = {T.Q4_0: [0], T.Q4_1: [0, 2], T.Q5_0: [0], T.Q5_1: [0, 2], T.Q8_0: [0],
              T.Q2_K: [80, 82], T.Q3_K: [108], T.Q4_K: [0, 2], T.Q5_K: [0, 2], T.Q6_K: [208],
              T.IQ4_NL: [0], T.IQ4_XS: [0]}
rng = np.random.default_rng(20261202)
cases = []
for t, fields in F16_FIELDS.items():
    bs, ts = gguf.GGML_QUANT_SIZES[t]
    nblocks = 2 if bs == 256 else 8
    raw = rng.integers(0, 256, size=(nblocks, ts), dtype=np.uint8)
    for b in range(nblocks):
        for o in fields:
            v = np.float16(rng.choice([-1, 1]) * 10 ** rng.uniform(-6, 0))  # includes subnormals
            raw[b, o:o + 2] = np.frombuffer(v.tobytes(), np.uint8)
    out = dequantize(raw.reshape(1, -1), t).reshape(-1).astype(np.float32)
    cases.append({"type": int(t), "name": t.name, "elements": int(nblocks * bs),
                  "bytes": raw.tobytes().hex(), "floatBits": out.view(np.uint32).tolist()})
json.dump({"generator": "scripts/gen_kernel_dequant_fixture.py", "gguf": "0.19.0", "cases": cases},
          open(sys.argv[1] if len(sys.argv) > 1 else "fixtures/ckernels_dequant_gguf_0.19.0.json", "w"))
