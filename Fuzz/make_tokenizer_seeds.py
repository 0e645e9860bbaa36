#!/usr/bin/env python3
"""Writes the tokenizer fuzz target's seed corpus: every text of fixtures/tokenizer_cases.json
plus edge cases, each prefixed with the 3 control bytes the target reads (split point, chunk size)."""
import hashlib
import json
import os
import sys

cases_path, out_dir = sys.argv[1], sys.argv[2]
texts = [case["text"].encode("utf-8") for case in json.load(open(cases_path, encoding="utf-8"))["cases"]]
texts += [
    b"", b" ", b"\n\n\n", b"   \t  x", b"it's we'RE they'll", b"1234567890 12 3",
    b"<|im_start|>user\nhi<|im_end|>\n", b"<|im_end", b"\xc3", b"\xe2\x28\xa1", b"\xf0\x9f\x99",
    b"\x80abc", "é̀ 日本 🙂👍🏽".encode("utf-8"), b"\x00\x01\x7f", b"a" * 300, b" " * 100 + b"x",
]
os.makedirs(out_dir, exist_ok=True)
for index, text in enumerate(texts):
    data = bytes([index * 37 % 256, index % 3, index % 16]) + text
    name = hashlib.sha1(data).hexdigest()
    with open(os.path.join(out_dir, name), "wb") as f:
        f.write(data)
print(f"wrote {len(texts)} tokenizer seeds to {out_dir}")
