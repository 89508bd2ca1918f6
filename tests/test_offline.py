"""Offline by default: index, search and ask open no connection beyond loopback (no model hub, no telemetry)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

GUARD = '''
import os, socket
_connect = socket.socket.connect
def guarded(self, address):
    host = address[0] if isinstance(address, tuple) else address
    if self.family in (socket.AF_INET, socket.AF_INET6) and host not in ("127.0.0.1", "::1", "localhost"):
        with open(os.environ["REREAD_TEST_NET_LOG"], "a") as f:
            f.write(f"{address}\\n")
        raise OSError("network blocked by the offline test")
    return _connect(self, address)
socket.socket.connect = guarded
'''


def test_no_internet_is_touched(tmp_path, vault):
    guard = tmp_path / "guard"
    guard.mkdir()
    (guard / "sitecustomize.py").write_text(GUARD)
    log = tmp_path / "net.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REREAD_", "OPENAI_", "HF_"))}
    env.update(PYTHONPATH=str(guard), REREAD_TEST_NET_LOG=str(log), REREAD_NOTES_DIR=str(vault),
               REREAD_INDEX_DIR=str(tmp_path / "index"))  # and no HF_HUB_OFFLINE: reread sets it itself
    exe = str(Path(sys.executable).parent / "reread")
    for args in (["index", "--json"], ["search", "tokenization", "--json"], ["ask", "What is RAG?", "--json"]):
        p = subprocess.run([exe, *args], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
        assert p.returncode == 0, p.stderr
        json.loads(p.stdout)
    assert not log.exists(), log.read_text()
