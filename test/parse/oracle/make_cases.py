"""Generates extract-time-cases.json and decimal-digits.json:
extract-time-cases.json holds random answers and what the docs/reference.md "Answers, metrics and the benchmark" procedure gives
for them under CPython's `re`, as the oracle for test/parse/extract-time.test.ts.

Written for this project from docs/reference.md "Answers, metrics and the benchmark" (the patterns are the facts stated there).
Run: python3 test/parse/oracle/make_cases.py  (CPython 3.11 made the committed file).
Inputs stay short: the range pattern backtracks cubically in `re` on long digit runs.
"""
import json
import random
import re
import struct
import sys
import unicodedata

CLOCK = re.compile(r"\b(\d{1,2}:\d{2}:\d{2}(?:\.\d+)?|\d{1,2}:\d{2}(?:\.\d+)?)\b")
RANGES = [re.compile(r"(\d+\.?\d*)\s*-\s*(\d+\.?\d*)"), re.compile(r"(\d+\.?\d*)\s+to\s+(\d+\.?\d*)")]
NUMBER = re.compile(r"\b(\d+\.\d+|\d+)\b")


def oracle(answer):
    text = answer.lower()
    clocks = CLOCK.findall(text)
    clocks = clocks[: len(clocks) // 2 * 2]
    if clocks:
        secs = []
        for c in clocks:
            f = c.split(":")
            if len(f) == 3:
                secs.append(float(int(f[0]) * 3600 + int(f[1]) * 60 + float(f[2])))
            else:
                secs.append(float(int(f[0]) * 60 + float(f[1])))
        return [(secs[i], secs[i + 1]) for i in range(0, len(secs), 2)]
    for pattern in RANGES:
        found = pattern.findall(text)
        if found:
            return [(float(a), float(b)) for a, b in found]
    nums = NUMBER.findall(text)
    nums = nums[: len(nums) // 2 * 2]
    return [(float(nums[i]), float(nums[i + 1])) for i in range(0, len(nums), 2)]


def bits(x):
    return struct.pack(">d", x).hex()


TOKENS = [
    "0", "1", "2", "9", "12", "59", "07", "123", "3.5", "12.0", "17.5", "0.25", "1.", ".5", "100",
    ":", ":", "::", ".", "..", "-", " - ", "--", " to ", "to", " TO ", "tomato", " ", "  ", "\t", "\n",
    "a", "x", "_", "s", "seconds", "The event happens in ", " seconds.", ", ", "and", "from", "between",
    "1:23", "01:02:03", "1:2", "12:34.5", "1:23:45.67", "99:99", "123:45",
    "\u0663", "\u0665\u0660", "\u096b", "\uff15", "\U0001d7d8", "\u00b2", "\u2160", "\u4e00",
    "\x1c", "\x85", "\u00a0", "\u2003", "\u3000", "\ufeff", "\u0130", "\u017f", "K", "\u03a3", "\u00e9",
    "1e5", "1,5", "-3", "+4", "(", ")", "[", "]", "<", ">", "'", '"', "%", "/",
]

TEMPLATES = [
    "The event happens in {a} - {b} seconds.",
    "The event happens in {a} - {b} seconds, {c} - {d} seconds.",
    "from {a} to {b}",
    "{a}-{b}",
    "Starting time: {a} seconds. Ending time: {b} seconds",
    "The start time for this event is {a} seconds, and the end time is {b} seconds.",
    "{a} {b} {c}",
    "at 0:{a2}:{b2} until 0:{c2}:{d2}",
    "{a2}:{b2} - {c2}:{d2}",
]


def number(rng):
    r = rng.random()
    if r < 0.3:
        return str(rng.randint(0, 300))
    if r < 0.8:
        return f"{rng.uniform(0, 300):.{rng.randint(1, 3)}f}"
    if r < 0.9:
        return "".join(rng.choice("0123456789") for _ in range(rng.randint(1, 30)))
    return "".join(chr(0x660 + int(d)) for d in str(rng.randint(0, 999)))


def main():
    rng = random.Random(20240531)
    cases = []
    for _ in range(1500):
        s = "".join(rng.choice(TOKENS) for _ in range(rng.randint(0, 14)))
        cases.append(s)
    for _ in range(700):
        t = rng.choice(TEMPLATES)
        s = t.format(a=number(rng), b=number(rng), c=number(rng), d=number(rng),
                     a2=f"{rng.randint(0, 99):02d}", b2=f"{rng.randint(0, 99):02d}",
                     c2=f"{rng.randint(0, 99):02d}", d2=f"{rng.randint(0, 99):02d}")
        if rng.random() < 0.3:
            s = s.upper()
        if rng.random() < 0.3:
            s = rng.choice(TOKENS) + s + rng.choice(TOKENS)
        cases.append(s)
    for _ in range(800):
        s = "".join(rng.choice("0123456789.:- to_a\u0663\u00b2") for _ in range(rng.randint(0, 24)))
        cases.append(s)
    cases.append("9" * 400 + " - 1")
    cases.append("1" * 330 + "." + "5" * 20 + " to 2")
    out = [{"input": s, "spans": [[bits(a), bits(b)] for a, b in oracle(s)]} for s in cases]
    meta = {"python": sys.version.split()[0], "cases": out}
    with open(__file__.replace("make_cases.py", "extract-time-cases.json"), "w", encoding="utf-8") as f:
        json.dump(meta, f, ensure_ascii=True, indent=0)
    # Every code point `re` matches with \d (str.isdecimal) and the value int()/float() give it.
    digits = [[c, unicodedata.decimal(chr(c))] for c in range(sys.maxunicode + 1) if chr(c).isdecimal()]
    with open(__file__.replace("make_cases.py", "decimal-digits.json"), "w", encoding="utf-8") as f:
        json.dump({"python": sys.version.split()[0], "unicode": unicodedata.unidata_version, "digits": digits}, f)


if __name__ == "__main__":
    main()
