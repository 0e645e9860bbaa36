#!/usr/bin/env python3
"""Writes fixtures/dequant_gguf_0.19.0.json, the reference the GGUF tests compare against.

For every tensor type the Swift GGUF module decodes, the fixture holds a few blocks of
random-but-valid encoded bytes and the float32 values that the PyPI `gguf` package 0.19.0
(`gguf.quants.dequantize`, numpy float32 arithmetic) decodes them to, as uint32 bit patterns.
The blocks' f16 scale fields are always finite but include +0, -0, negative values,
subnormals and +-65504; the other bytes are random, all-zero or all-one.

For the types that `gguf.quants.quantize` implements (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, F16,
BF16; ggml's reference quantizers, bit-exact) it also holds float inputs and the encoded
bytes gguf produces.

The output is deterministic (fixed seed). Run from anywhere:
    python3 scripts/gen-dequant-fixture.py
Requires: gguf==0.19.0, numpy. The tests only read the JSON; they never run Python.
"""

import importlib.metadata
import json
import pathlib

import numpy as np
from gguf import GGMLQuantizationType as T
from gguf.constants import GGML_QUANT_SIZES
from gguf.quants import dequantize, quantize

GGUF_VERSION = "0.19.0"
SEED = 20261202
OUT = pathlib.Path(__file__).resolve().parent.parent / "fixtures" / f"dequant_gguf_{GGUF_VERSION}.json"

# Byte offsets of the f16 fields (scales, minimums) inside one block of each type.
HALF_FIELDS = {
    T.Q4_0: [0], T.Q4_1: [0, 2], T.Q5_0: [0], T.Q5_1: [0, 2], T.Q8_0: [0],
    T.Q2_K: [80, 82], T.Q3_K: [108], T.Q4_K: [0, 2], T.Q5_K: [0, 2], T.Q6_K: [208],
    T.IQ4_NL: [0], T.IQ4_XS: [0],
}

# Finite halves worth covering: +-0, +-1, +-max, +-smallest subnormal, largest subnormal,
# smallest normal, and a few ordinary values.
SPECIAL_HALVES = [0x0000, 0x8000, 0x3C00, 0xBC00, 0x7BFF, 0xFBFF, 0x0001, 0x8001, 0x03FF, 0x0400,
                  0x2E66, 0xAE66, 0x1400, 0x9400]


def random_finite_halves(rng, n):
    """Uniform random f16 bit patterns with exponent != 31 (finite), both signs."""
    bits = rng.integers(0, 1 << 16, size=n, dtype=np.uint32)
    exponent_all_ones = (bits & 0x7C00) == 0x7C00
    bits[exponent_all_ones] ^= 0x4000  # clear the top exponent bit: finite
    return bits.astype(np.uint16)


def put_half(block, offset, bits):
    block[offset] = bits & 0xFF
    block[offset + 1] = bits >> 8


def quantized_blocks(rng, qtype):
    """Blocks of `qtype`: special scales on random bytes, zeros, all-ones with extreme scales, random."""
    block_size, type_size = GGML_QUANT_SIZES[qtype]
    fields = HALF_FIELDS[qtype]
    blocks = []
    # 1) random payload, scales walking through the special values (fewer for super-blocks)
    specials = SPECIAL_HALVES if qtype.value < 10 or qtype == T.IQ4_NL else [0x8000, 0x7BFF, 0xFBFF, 0x0001, 0xAE66, 0x0000]
    for start in range(0, len(specials), len(fields)):
        block = rng.integers(0, 256, size=type_size, dtype=np.uint8)
        for k, offset in enumerate(fields):
            put_half(block, offset, specials[(start + k) % len(specials)])
        blocks.append(block)
    # 2) all-zero payload with scale (and min) 1 and -1
    block = np.zeros(type_size, dtype=np.uint8)
    for k, offset in enumerate(fields):
        put_half(block, offset, 0x3C00 if k == 0 else 0xBC00)
    blocks.append(block)
    # 3) all-one payload (largest quants, largest sub-scales) with extreme scales
    for signs in [(0x7BFF, 0x7BFF), (0xFBFF, 0x7BFF), (0x7BFF, 0xFBFF)]:
        block = np.full(type_size, 0xFF, dtype=np.uint8)
        for k, offset in enumerate(fields):
            put_half(block, offset, signs[k % 2])
        blocks.append(block)
    # 4) fully random payload with random finite scales
    for _ in range(4 if block_size == 32 else 2):
        block = rng.integers(0, 256, size=type_size, dtype=np.uint8)
        for offset, bits in zip(fields, random_finite_halves(rng, len(fields))):
            put_half(block, offset, int(bits))
        blocks.append(block)
    return np.concatenate(blocks)


def float_elements(rng, qtype):
    """Encoded elements of a float type: finite values including extremes and subnormals."""
    if qtype == T.F32:
        special = np.array([0.0, -0.0, 1.0, -1.0, np.finfo(np.float32).max, -np.finfo(np.float32).max,
                            np.finfo(np.float32).tiny, 1e-45, -1e-45, 3.1415927], dtype=np.float32)
        values = np.concatenate([special, rng.standard_normal(54).astype(np.float32) * 10])
        return values.view(np.uint8)
    if qtype == T.F16:
        bits = np.concatenate([np.array(SPECIAL_HALVES, dtype=np.uint16), random_finite_halves(rng, 50)])
        return bits.view(np.uint8)
    # BF16: finite bfloat16 patterns (exponent != 255)
    bits = rng.integers(0, 1 << 16, size=64, dtype=np.uint32)
    bits[(bits & 0x7F80) == 0x7F80] ^= 0x4000
    special = np.array([0x0000, 0x8000, 0x3F80, 0xBF80, 0x7F7F, 0xFF7F, 0x0001, 0x8001, 0x0080], dtype=np.uint32)
    bits[: len(special)] = special
    return bits.astype(np.uint16).view(np.uint8)


def dequant_case(rng, qtype):
    block_size, type_size = GGML_QUANT_SIZES[qtype]
    data = float_elements(rng, qtype) if block_size == 1 else quantized_blocks(rng, qtype)
    data = np.ascontiguousarray(data, dtype=np.uint8)
    values = np.asarray(dequantize(data.reshape(1, -1), qtype), dtype=np.float32).reshape(-1)
    assert values.size == data.size // type_size * block_size
    assert np.all(np.isfinite(values)), qtype.name
    return {
        "type": qtype.name,
        "type_id": int(qtype.value),
        "block_size": block_size,
        "bytes_per_block": type_size,
        "elements": int(values.size),
        "data_hex": data.tobytes().hex(),
        "expected_f32_bits": [int(v) for v in values.view(np.uint32)],
    }


def quant_case(rng, qtype):
    block_size, _ = GGML_QUANT_SIZES[qtype]
    n = max(32, block_size) * 8
    x = rng.standard_normal(n).astype(np.float32)
    scales = np.repeat(np.float32(10.0) ** rng.uniform(-4, 2, size=n // 32).astype(np.float32), 32)
    x *= scales
    x[32:64] = 0                            # an all-zero block
    x[64:96] = np.float32(0.75)             # a constant block
    x[96:128] = rng.standard_normal(32).astype(np.float32) * np.float32(0.01)
    x[100] = np.float32(-3.5)               # one outlier
    x[128:160] = np.abs(x[128:160])          # all positive
    encoded = np.asarray(quantize(x.reshape(1, -1), qtype)).view(np.uint8).reshape(-1)
    return {
        "type": qtype.name,
        "type_id": int(qtype.value),
        "input_f32_bits": [int(v) for v in x.view(np.uint32)],
        "expected_hex": encoded.tobytes().hex(),
    }


def main():
    version = importlib.metadata.version("gguf")
    assert version == GGUF_VERSION, f"gguf {version} is installed; the fixture is defined by {GGUF_VERSION}"
    rng = np.random.default_rng(SEED)
    dequant_types = [T.F32, T.F16, T.BF16, T.Q4_0, T.Q4_1, T.Q5_0, T.Q5_1, T.Q8_0,
                     T.Q2_K, T.Q3_K, T.Q4_K, T.Q5_K, T.Q6_K, T.IQ4_NL, T.IQ4_XS]
    quant_types = [T.F16, T.BF16, T.Q4_0, T.Q4_1, T.Q5_0, T.Q5_1, T.Q8_0]
    fixture = {
        "generator": "scripts/gen-dequant-fixture.py",
        "gguf_version": version,
        "numpy_version": np.__version__,
        "seed": SEED,
        "dequantize": [dequant_case(rng, t) for t in dequant_types],
        "quantize": [quant_case(rng, t) for t in quant_types],
    }
    # One case per line: compact, yet a regenerated fixture diffs by case.
    lines = ["{"]
    for key, value in fixture.items():
        if isinstance(value, list):
            cases = ",\n".join("  " + json.dumps(case, separators=(",", ":")) for case in value)
            lines.append(f" {json.dumps(key)}: [\n{cases}\n ],")
        else:
            lines.append(f" {json.dumps(key)}: {json.dumps(value)},")
    lines[-1] = lines[-1].rstrip(",")
    lines.append("}")
    OUT.write_text("\n".join(lines) + "\n")
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
