"""Calibrate "not in your notes": both errors of the refusal rule on QA sets, and a grid search for its weights.

    .venv/bin/python benchmarks/refusal.py VAULT:QA[:INDEX_DIR] ... [--fit | --loso] [-k 5]

Each VAULT:QA pair is indexed (into INDEX_DIR, or a temporary folder) and every question without history
is searched once; rows with "found": false are out of scope. Prints one JSON object: per set, the
questions answered out of scope and refused in scope under the current RefusalConfig, and with --fit the
config that minimises the errors summed over all given sets (tune on some sets, then check the others
with the fitted values: a rule that only fits the sets it was tuned on is overfitting). --loso does that check
for every set in turn: fit on all the others, count the errors on the one left out, beside the current config's.

This counts the gate only: the offline answerer refuses some questions the gate lets through (no sentence close
enough, an amount or a date asked for and not given), so `reread eval` can count fewer answered out of scope.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import tempfile
from dataclasses import asdict, replace
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def collect(spec: str, tmp: Path, embedder, k: int) -> tuple[str, list[tuple[bool, object, str]]]:
    from assistant.evaluate import load_qa, row_filters
    from assistant.facade import Assistant
    from ingest.settings import Settings

    vault, qa, *rest = spec.split(":")
    index = Path(rest[0]) if rest else tmp / Path(qa).stem
    assistant = Assistant(Settings(notes_dir=Path(vault), index_dir=index, backend="extractive"), embedder=embedder)
    if assistant.status()["chunks"] == 0:
        assistant.index(Path(vault))
    rows = []
    for row in load_qa(Path(qa)):
        if row.get("history"):
            continue
        hits = assistant.search(row["question"], k, row_filters(row), rescore=True)  # as an answer searches
        ev = assistant.retriever.evidence(row["question"], hits, assistant.refusal.depth)
        rows.append((bool(row.get("found", True)), ev, row["question"]))
    return Path(qa).name, rows


def errors(rows, cfg) -> dict:
    from assistant.refusal import grounded

    out_answered = [q for found, ev, q in rows if not found and grounded(ev, cfg)]
    in_refused = [q for found, ev, q in rows if found and not grounded(ev, cfg)]
    return {"in_scope": sum(f for f, _, _ in rows), "out_of_scope": sum(not f for f, _, _ in rows),
            "answered_out_of_scope": len(out_answered), "refused_in_scope": len(in_refused),
            "answered_out_of_scope_questions": out_answered, "refused_in_scope_questions": in_refused}


def fit(sets: dict) -> object:
    from assistant.refusal import RefusalConfig

    best, best_cost = RefusalConfig(), None
    grid = itertools.product([0.0, 0.25, 0.5, 0.75, 1.0], [0.0, 0.2, 0.4, 0.6, 0.8, 1.0],  # holds the current one
                             [x / 100 for x in range(0, 70, 2)], [0.6, 0.65, 0.7, 0.8, 1.0])
    for cw, uw, th, strong in grid:
        cfg = replace(RefusalConfig(), cover_weight=cw, unknown_weight=uw, threshold=th, strong=strong)
        e = [errors(rows, cfg) for rows in sets.values()]
        # both errors weigh the same: weighting either more fitted the tuning sets and failed the held-out ones
        cost = sum(x["answered_out_of_scope"] + x["refused_in_scope"] for x in e)
        if best_cost is None or cost < best_cost:
            best, best_cost = cfg, cost
    return best


def main() -> None:
    from assistant.refusal import RefusalConfig
    from ingest.auto_embedder import AutoEmbedder

    ap = argparse.ArgumentParser()
    ap.add_argument("sets", nargs="+", help="VAULT:QA[:INDEX_DIR]")
    how = ap.add_mutually_exclusive_group()
    how.add_argument("--fit", action="store_true")
    how.add_argument("--loso", action="store_true", help="fit on all sets but one, count errors on that one")
    ap.add_argument("-k", type=int, default=5)
    args = ap.parse_args()
    if args.loso and len(args.sets) < 2:
        ap.error("--loso needs two sets or more: it fits on all but one")
    embedder = AutoEmbedder("all-MiniLM-L6-v2")  # the encoder reread uses by default
    with tempfile.TemporaryDirectory(prefix="reread-refusal-") as tmp:
        sets = dict(collect(s, Path(tmp), embedder, args.k) for s in args.sets)
    if args.loso:
        print(json.dumps({"left_out": {name: loso(sets, name) for name in sets}}))
        return
    cfg = fit(sets) if args.fit else RefusalConfig()
    print(json.dumps({"config": asdict(cfg), "sets": {name: errors(rows, cfg) for name, rows in sets.items()}}))


def loso(sets: dict, name: str) -> dict:
    """The errors on one set of the config fitted on all the others, beside the current config's."""
    from assistant.refusal import RefusalConfig

    fitted = fit({n: rows for n, rows in sets.items() if n != name})
    keys = ("answered_out_of_scope", "refused_in_scope")
    held, now = errors(sets[name], fitted), errors(sets[name], RefusalConfig())
    return {"fitted": asdict(fitted), "fitted_errors": {k: held[k] for k in keys},
            "current_errors": {k: now[k] for k in keys}}


if __name__ == "__main__":
    main()
