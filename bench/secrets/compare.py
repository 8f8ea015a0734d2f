#!/usr/bin/env python3
"""Recall and precision of `arcane scan` and detect-secrets on the labelled
corpus, side by side, at line level: a line counts as flagged when a tool
reports any finding on it. Body lines of a PEM block are neutral (both tools
report the BEGIN line).

usage: compare.py ARCANE_BIN CORPUS_DIR
"""
import json, os, subprocess, sys, time
from collections import defaultdict

def run_arcane(bin_, corpus):
    t = time.perf_counter()
    p = subprocess.run([bin_, "--json", "scan", "."], cwd=corpus, capture_output=True, text=True)
    dt = time.perf_counter() - t
    hits = set()
    for line in p.stdout.splitlines():
        ev = json.loads(line)
        if ev.get("event") == "data" and ev.get("kind") == "scan_finding":
            v = ev["value"]
            hits.add((os.path.normpath(v["file"]), int(v["line"])))
    return hits, dt

def run_detect_secrets(corpus):
    t = time.perf_counter()
    p = subprocess.run(["detect-secrets", "scan", "--all-files", "."], cwd=corpus, capture_output=True, text=True)
    dt = time.perf_counter() - t
    if p.returncode != 0:
        sys.exit("detect-secrets failed: " + p.stderr)
    hits = set()
    for f, results in json.loads(p.stdout)["results"].items():
        for r in results:
            hits.add((os.path.normpath(f), int(r["line_number"])))
    return hits, dt

def score(hits, labels, corpus):
    tp = fp = fn = 0
    by_kind = defaultdict(lambda: [0, 0])
    for f, lab in labels.items():
        n = sum(1 for _ in open(os.path.join(corpus, f)))
        for i in range(1, n + 1):
            kind = lab.get(str(i))
            hit = (f, i) in hits
            if kind == "private-key-body":
                continue
            if kind:
                by_kind[kind][1] += 1
                if hit:
                    tp += 1
                    by_kind[kind][0] += 1
                else:
                    fn += 1
            elif hit:
                fp += 1
    recall = tp / (tp + fn) if tp + fn else 0
    precision = tp / (tp + fp) if tp + fp else 0
    return tp, fp, fn, recall, precision, by_kind

def main():
    bin_, corpus = sys.argv[1], sys.argv[2]
    labels = json.load(open(os.path.join(corpus, "labels.json")))
    rows = []
    kinds = {}
    for name, (hits, dt) in [("arcane scan", run_arcane(bin_, corpus)), ("detect-secrets", run_detect_secrets(corpus))]:
        hits = {h for h in hits if h[0] != "labels.json"}
        tp, fp, fn, r, p, bk = score(hits, labels, corpus)
        rows.append((name, tp, fp, fn, r, p, dt))
        kinds[name] = bk
    print(f"{'tool':16} {'TP':>4} {'FP':>4} {'FN':>4} {'recall':>7} {'precision':>9} {'time':>7}")
    for name, tp, fp, fn, r, p, dt in rows:
        print(f"{name:16} {tp:4d} {fp:4d} {fn:4d} {r:7.1%} {p:9.1%} {dt:6.2f}s")
    print("\nrecall by kind:")
    allk = sorted(set(k for bk in kinds.values() for k in bk))
    print(f"{'kind':24} " + " ".join(f"{n:>16}" for n in kinds))
    for k in allk:
        print(f"{k:24} " + " ".join(f"{kinds[n][k][0]:>9}/{kinds[n][k][1]:<6}" for n in kinds))

if __name__ == "__main__":
    main()
