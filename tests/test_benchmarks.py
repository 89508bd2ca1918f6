"""The re-index benchmark still runs and prints the figures others read (tiny vault: a smoke test, not a measure)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.slow

KEYS = {"notes", "seed", "vault_mb", "chunks", "full_s", "full_report_s", "no_change_s", "no_change_report_s",
        "no_change_cli_s", "no_change_cli_report_s", "ratio_no_change_full", "ratio_no_change_cli_full",
        "edit_notes", "edit_s", "edit_report_s", "edit_new_chunks", "delete_s", "delete_report_s", "rename_s",
        "rename_report_s", "final_no_change_s", "no_change_embedder_loaded", "reports"}


def test_reindex_benchmark_prints_json():
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    p = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "reindex.py"), "--notes", "5", "--repeat", "1"],
                       env=env, capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr
    lines = p.stdout.strip().splitlines()
    assert len(lines) == 1, "stdout is one JSON object; progress goes to stderr"
    out = json.loads(lines[0])
    assert KEYS <= set(out)
    assert out["notes"] == 5 and out["chunks"] > 0 and out["edit_notes"] == 3
    r = out["reports"]
    assert r["full"]["added"] == 5 and r["no_change"]["unchanged"] == r["no_change_inprocess"]["unchanged"] == 5
    assert out["no_change_embedder_loaded"] is False
    assert (r["edit"]["updated"], r["delete"]["removed"], r["rename"]["renamed"]) == (3, 1, 1)
    assert r["final_no_change"] == {"added": 0, "updated": 0, "removed": 0, "renamed": 0, "unchanged": 4,
                                    "chunks": r["rename"]["chunks"], "failed": 0}
