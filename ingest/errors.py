"""A small error tree; every message names the file or setting and the fix."""


class RereadError(Exception):
    """Base: the CLI prints the message on one line and exits 1."""


class ConfigError(RereadError):
    """A bad setting in the environment or .env."""


class UnreadableFile(RereadError):
    """A source file that cannot be indexed; reported in `failed`, the rest still lands."""

    def __init__(self, source: str, reason: str):
        super().__init__(f"{source}: {reason}")
        self.source = source
        self.reason = reason


class IndexBusy(RereadError):
    """Another process holds the index's writer lock."""


class IndexMissing(RereadError):
    """Nothing indexed yet."""


class IndexMismatch(RereadError):
    """The index was built differently (model, format) than the settings ask for."""


class IndexDamaged(IndexMismatch):
    """A file of the index is unreadable or missing. The index is derived data: `reread index` rebuilds it."""

    def __init__(self, path: str, problem: str):
        super().__init__(f"{path} {problem}; run `reread index` to rebuild it")
        self.path = path
        self.problem = problem


class BackendUnreachable(RereadError):
    """The LLM server did not answer."""


class MissingKey(RereadError):
    """The OpenAI backend was asked for without a key or base URL."""
