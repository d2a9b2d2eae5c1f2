#!/usr/bin/env python3
"""Writes the deep-nesting seeds of a fuzz target into a corpus folder (scripts/fuzz.sh).

They are generated rather than committed. Issue 14's crashing inputs were 100,000 levels of '['
(200 KB); under AddressSanitizer nlohmann's recursive dump() already overflows the stack between
10,000 and 20,000 levels (measured with Debian's clang 14 and nlohmann 3.11), so 30,000 levels
(60 KB) reach the crash in the fuzz build while keeping every execution cheap. The Catch2 tests
keep the full 100,000.

    python3 tests/fuzz/deep_seeds.py scenario|safetensors|dump FOLDER
"""
import struct
import sys
from pathlib import Path

DEPTH = 30_000


def nested(depth, inner=""):
    return "[" * depth + inner + "]" * depth


def safetensors(header):
    data = header.encode()
    return struct.pack("<Q", len(data)) + data


def main():
    target, folder = sys.argv[1], Path(sys.argv[2])
    objects = '{"a":' * DEPTH + "1" + "}" * DEPTH
    if target == "scenario":
        seeds = {
            "deep_arrays.json": nested(DEPTH).encode(),
            "deep_objects.json": objects.encode(),
            "deep_seq_lens.json": ('{"seq_lens": ' + nested(DEPTH, "1") + "}").encode(),
        }
    elif target in ("safetensors", "dump"):
        entry = '{"dtype": "F32", "shape": %s, "data_offsets": [0, 4]}'
        seeds = {
            "deep_header.safetensors": safetensors(nested(DEPTH)),
            "deep_shape.safetensors": safetensors('{"t": ' + entry % nested(DEPTH, "1") + "}") + bytes(4),
            "deep_metadata.safetensors": safetensors(
                '{"__metadata__": {"scenario": "' + nested(DEPTH) + '"}, "t": ' + entry % "[1]" + "}") + bytes(4),
        }
    else:
        sys.exit(f"deep_seeds.py: unknown target {target!r}; known: scenario, safetensors, dump")
    for name, contents in seeds.items():
        (folder / name).write_bytes(contents)


if __name__ == "__main__":
    main()
