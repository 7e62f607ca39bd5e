"""Generates normalize-query-cases.json: random queries and the docs/reference.md "Prompt layout and special tokens" normalisation of
each under CPython (re.sub(r"\\s+", " ", q).strip().rstrip(".").strip()), the oracle for
test/prompt/query.test.ts. Written for this project from docs/reference.md "Prompt layout and special tokens".
Run: python3 test/prompt/oracle/make_cases.py
"""
import json
import random
import re
import sys


def normalize(q):
    return re.sub(r"\s+", " ", q).strip().rstrip(".").strip()


PIECES = ["a", "man", "drinks", "water", ".", "..", " . ", " ", "  ", "\t", "\n", "\r\n", "\x0b", "\x0c",
          "\x1c", "\x1d", "\x1e", "\x1f", "\x85", "\xa0", "\u1680", "\u2000", "\u2005", "\u200a", "\u200b",
          "\u2028", "\u2029", "\u202f", "\u205f", "\u3000", "\ufeff", "\u180e", "\x00", "'", "\u00e9", "\U0001f600"]


def main():
    rng = random.Random(99)
    cases = [
        "a man drinks water.", "  a   man\tdrinks\nwater . ", "person opens a door...", "a . .", "...", "", " ",
        "\u3000person\u2003sits\u00a0down.\x85", "\x1cwho\x1dis\x1ehere\x1f.", "end.\ufeff", "\ufeffstart",
    ]
    for _ in range(2000):
        cases.append("".join(rng.choice(PIECES) for _ in range(rng.randint(0, 12))))
    out = [{"input": q, "output": normalize(q)} for q in cases]
    with open(__file__.replace("make_cases.py", "normalize-query-cases.json"), "w", encoding="utf-8") as f:
        json.dump({"python": sys.version.split()[0], "cases": out}, f, ensure_ascii=True, indent=0)


if __name__ == "__main__":
    main()
