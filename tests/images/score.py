#!/usr/bin/env python3
"""Scores `imgcls predict MODEL tests/images/digits --json` against tests/images/labels.csv.

Usage: build/imgcls predict MODEL tests/images/digits --json | python3 tests/images/score.py
Prints right/total overall and for each kind of picture (labels.csv's `kind` column), then
how many pictures the model rejected ("not a digit"; a rejected picture is wrong). Lines for
files labels.csv does not list are ignored; an error line for a listed picture is wrong.
"""
import collections
import csv
import json
import os
import sys

here = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(here, "labels.csv"), newline="") as f:
    rows = {os.path.basename(r["file"]): r for r in csv.DictReader(f)}

right, total = collections.Counter(), collections.Counter()
rejected = []
for line in sys.stdin:
    answer = json.loads(line)
    row = rows.get(os.path.basename(answer["file"]))
    if row is None:
        continue
    for key in ("all", row["kind"]):
        total[key] += 1
        right[key] += answer.get("label") == int(row["label"])
    if answer.get("rejected"):
        rejected.append(os.path.basename(answer["file"]))
if not total:
    sys.exit("score.py: no line of the input names a picture of labels.csv")
print(" ".join(f"{k}: {right[k]}/{total[k]}" for k in ["all"] + sorted(set(total) - {"all"})))
print(f"rejected: {len(rejected)}/{total['all']}" + (f" ({', '.join(rejected)})" if rejected else ""))
