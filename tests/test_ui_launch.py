"""`reread ui` as a person starts and stops it: the port from the flag or STREAMLIT_SERVER_PORT, a taken port
said in one line, and SIGTERM takes the Streamlit server down with it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
REREAD = str(Path(sys.executable).parent / "reread")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def listening(address: str = "127.0.0.1") -> Iterator[int]:
    """Something else already serving on a port."""
    with socket.socket() as s:
        s.bind((address, 0))
        s.listen()
        yield s.getsockname()[1]


def ui_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REREAD_", "OPENAI_", "STREAMLIT_"))}
    (tmp_path / "vault").mkdir(exist_ok=True)
    env.update(REREAD_NOTES_DIR=str(tmp_path / "vault"), REREAD_INDEX_DIR=str(tmp_path / "index"),
               REREAD_BACKEND="extractive", HF_HUB_OFFLINE="1", **extra)
    return env


def streamlit_pids(port: int) -> list[int]:
    """Processes running `streamlit ... --server.port PORT`: this test's server and nothing else."""
    pids = []
    for proc in Path("/proc").iterdir():
        try:
            args = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:  # not a process, or gone meanwhile
            continue
        if b"streamlit" in args and str(port).encode() in args and b"--server.port" in args:
            pids.append(int(proc.name))
    return pids


def accepting(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def test_the_chat_serves_on_the_port_from_the_environment_and_sigterm_stops_the_server(tmp_path):
    port = free_port()
    proc = subprocess.Popen([REREAD, "ui"], env=ui_env(tmp_path, STREAMLIT_SERVER_PORT=str(port)), cwd=tmp_path,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline, status = time.monotonic() + 90, None
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                status = urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=1).status
                break
            except OSError:
                time.sleep(0.3)
        assert status == 200, f"reread ui did not serve on STREAMLIT_SERVER_PORT={port} (exit {proc.poll()})"
        assert streamlit_pids(port) == [proc.pid]  # Streamlit took reread's place: one process, one pid to stop

        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
        assert not accepting(port)
        assert streamlit_pids(port) == []
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)
        for pid in streamlit_pids(port):  # never leave a server behind, whatever failed above
            os.kill(pid, signal.SIGKILL)


def run_ui(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([REREAD, "ui", *args], env=ui_env(tmp_path, **env), cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)


def test_a_taken_port_is_one_line_and_exit_1(tmp_path):
    with listening() as port:
        done = run_ui(tmp_path, "--port", str(port))
    assert done.returncode == 1
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert f"port {port} on 127.0.0.1 is taken" in lines[0]
    assert "--port" in lines[0]  # the message says the fix
    assert streamlit_pids(port) == []


def test_the_flag_wins_over_the_environment(tmp_path):
    with listening() as taken:
        done = run_ui(tmp_path, "--port", str(taken), STREAMLIT_SERVER_PORT=str(free_port()))
    assert done.returncode == 1
    assert f"port {taken} " in done.stderr


def test_port_and_address_come_from_the_environment_when_no_flag_is_given(tmp_path):
    with listening("127.0.0.2") as taken:
        done = run_ui(tmp_path, STREAMLIT_SERVER_PORT=str(taken), STREAMLIT_SERVER_ADDRESS="127.0.0.2")
    assert done.returncode == 1
    assert f"port {taken} on 127.0.0.2 is taken" in done.stderr


def test_an_address_that_is_not_this_machines_is_one_line(tmp_path):
    done = run_ui(tmp_path, "--address", "192.0.2.1", "--port", str(free_port()))  # TEST-NET-1: bound, never sent to
    assert done.returncode == 1
    assert len(done.stderr.strip().splitlines()) == 1
    assert "cannot serve on 192.0.2.1" in done.stderr
