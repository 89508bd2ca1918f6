"""Run a fresh process and read its own cost: CPU-seconds and peak RSS from wait4, wall time, imported modules."""

from __future__ import annotations

import os
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from time import perf_counter

HEAVY = ("torch", "sentence_transformers", "transformers", "sklearn", "pandas")

# Loaded through PYTHONPATH into the child: at exit it writes the top-level names of every imported module.
SITECUSTOMIZE = (
    "import atexit, os, sys\n"
    "def _dump():\n"
    "    with open(os.environ['REREAD_BENCH_MODULES'], 'w') as f:\n"
    "        f.write('\\n'.join(sorted({m.split('.')[0] for m in list(sys.modules)})))\n"
    "atexit.register(_dump)\n")


@dataclass
class Child:
    returncode: int
    stdout: str
    stderr: str
    cpu_s: float  # user + system, the child's own (its threads included)
    wall_s: float
    max_rss_mb: float
    modules: set[str] = field(default_factory=set)

    @property
    def heavy(self) -> list[str]:
        return sorted(set(HEAVY) & self.modules)


def run(cmd: list[str], env: dict[str, str], cwd: Path | None = None, stdin: str | None = None) -> Child:
    """One fresh process; its rusage comes from wait4 on its pid, so no other child is counted."""
    with tempfile.TemporaryDirectory(prefix="reread-bench-") as tmp:
        tmpdir = Path(tmp)
        (tmpdir / "sitecustomize.py").write_text(SITECUSTOMIZE)
        modules = tmpdir / "modules.txt"
        path = os.pathsep.join(p for p in (str(tmpdir), env.get("PYTHONPATH", "")) if p)
        env = {**env, "PYTHONPATH": path, "REREAD_BENCH_MODULES": str(modules)}
        with open(tmpdir / "out", "w+") as out, open(tmpdir / "err", "w+") as err:
            t0 = perf_counter()
            p = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=out, stderr=err,
                                 stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL, text=True)
            if stdin is not None:
                p.stdin.write(stdin)
                p.stdin.close()
            _, status, usage = os.wait4(p.pid, 0)
            wall = perf_counter() - t0
            p.returncode = os.waitstatus_to_exitcode(status)  # reaped here: Popen must not wait again
            out.seek(0)
            err.seek(0)
            loaded = set(modules.read_text().split()) if modules.exists() else set()
            return Child(p.returncode, out.read(), err.read(), usage.ru_utime + usage.ru_stime, wall,
                         usage.ru_maxrss / 1024, loaded)
