"""The `reread` command line. Each command parses options, calls the facade, and prints."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import typer

from ingest.errors import RereadError
from ingest.settings import Settings, load_settings

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="reread: ask your reading notes, with citations that open the exact passage.")

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON only on stdout.")]
KOpt = Annotated[int | None, typer.Option("-k", "--top-k", min=1, max=100, help="How many passages to retrieve.")]
FilterOpt = Annotated[list[str] | None, typer.Option(
    "--filter", help="KEY=VALUE, repeatable, all must hold: tag=NAME, folder=PATH, kind=note|pdf, source=PATH.")]


def _emit(obj, as_json: bool, text: str) -> None:
    print(json.dumps(obj, ensure_ascii=False) if as_json else text, flush=True)


def _err(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _assistant(settings: Settings | None = None):
    from .facade import Assistant

    return Assistant(settings or load_settings())


def _filters(items: list[str] | None):
    from .filters import parse_filters

    try:
        return parse_filters(items)
    except ValueError as e:
        raise typer.BadParameter(str(e), param_hint="--filter") from None


def _lines(arg: str) -> Iterator[str]:
    """The one query, or with "-" each non-empty stdin line as it arrives (an answer per line, streamed)."""
    if arg != "-":
        yield arg
        return
    for line in sys.stdin:
        if line.strip():
            yield line.strip()


@app.command()
def index(vault: Annotated[Path | None, typer.Option(help="The vault root (default REREAD_NOTES_DIR).")] = None,
          full: Annotated[bool, typer.Option("--full", help="Rebuild everything from scratch.")] = False,
          watch: Annotated[bool, typer.Option("--watch", help="Re-index as notes are saved, until Ctrl-C.")] = False,
          as_json: JsonOpt = False) -> None:
    """Index the vault: only what changed since the last run."""
    from ingest.progress import JsonProgress, RichProgress

    from .render import report_text

    assistant = _assistant(load_settings(notes_dir=vault))
    # progress on stderr: JSON lines under --json (stdout keeps the report alone), else a bar on a terminal
    progress = JsonProgress() if as_json else RichProgress() if sys.stderr.isatty() else None

    def once(full_run: bool) -> int:
        report = assistant.index(full=full_run, progress=progress, log=_err)
        _emit(report.to_json(), as_json, report_text(report))
        return 2 if report.failed else 0

    code = once(full)
    if watch:
        from .watch import watch_vault

        watch_vault(Path(assistant.manifest().vault), assistant.index_dir, lambda: once(False), _err)
    raise typer.Exit(code)


@app.command()
def search(query: Annotated[str, typer.Argument(help='The query, or "-" to read one per line from stdin.')],
           k: KOpt = None, filter: FilterOpt = None, as_json: JsonOpt = False) -> None:
    """The passages closest to QUERY."""
    from .render import hits_text

    filters = _filters(filter)
    assistant = _assistant()
    for q in _lines(query):
        hits = assistant.search(q, k, filters)
        _emit({"query": q, "hits": [h.to_json() for h in hits]}, as_json, hits_text(q, hits))


@app.command()
def ask(question: Annotated[str, typer.Argument(help='The question, or "-" to read one per line from stdin.')],
        k: KOpt = None, filter: FilterOpt = None,
        backend: Annotated[str | None, typer.Option(
            help="auto | openai | extractive (default REREAD_BACKEND)")] = None,
        export: Annotated[Path | None, typer.Option(
            "--export", help='Also write the answer as a markdown note to FILE (with "-": the whole conversation).',
            metavar="FILE")] = None,
        export_dir: Annotated[Path | None, typer.Option(
            "--export-dir", help="Also write each answer as a note in DIR, named from the date and the question.",
            metavar="DIR")] = None,
        links: Annotated[str, typer.Option(
            help="How exports link back to the notes: wikilink ([[note#Heading]]) | relative (markdown links).")]
        = "wikilink",
        as_json: JsonOpt = False) -> None:
    """Answer QUESTION from the notes, with citations."""
    from .export import LINK_STYLES, check_target
    from .facade import BACKENDS, Answer
    from .render import answer_text

    if backend is not None and backend not in BACKENDS:
        raise typer.BadParameter(f"{backend!r} is not one of {', '.join(BACKENDS)}", param_hint="--backend")
    if export and export_dir:
        raise typer.BadParameter("give --export FILE or --export-dir DIR, not both", param_hint="--export")
    if links not in LINK_STYLES:
        raise typer.BadParameter(f"{links!r} is not one of {', '.join(LINK_STYLES)}", param_hint="--links")
    filters = _filters(filter)
    assistant = _assistant()
    if export or export_dir:  # fail before answering, not after; nothing is written until an answer exists
        check_target(export, export_dir)
    answers, started = [], _now()
    for q in _lines(question):
        if as_json:
            answer = assistant.ask(q, k, backend, filters)
            _emit(answer.to_json(), True, "")
        else:
            answer, streamed = None, ""
            for part in assistant.ask_stream(q, k, backend, filters):
                if isinstance(part, Answer):
                    answer = part
                else:  # the LLM's words as they come; the checked answer follows
                    streamed += part
                    print(part, end="", flush=True)
            assert answer is not None
            if streamed:
                print("\n", flush=True)
            _emit(None, False, answer_text(answer, show_answer=answer.answer != streamed.strip()))
        answers.append(answer)
        if export_dir:
            _err(f"exported to {_export(assistant, [answer], _now(), links, directory=export_dir)}")
        elif export:  # rewritten after each answer, so an interrupted batch keeps what was answered
            _export(assistant, answers, started, links, file=export)
    if export and answers:
        _err(f"exported to {export}")


def _now():
    import datetime as dt

    return dt.datetime.now().astimezone().replace(microsecond=0)


def _export(assistant, answers: list, now, links: str, file: Path | None = None,
            directory: Path | None = None) -> Path:
    """Write answers (one, or a conversation) as a markdown note; relative links need the vault root."""
    from .export import conversation_markdown, write_export

    vault = Path(assistant.manifest().vault) if links == "relative" else None
    text = conversation_markdown(answers, asked_at=now, links=links, vault_root=vault,
                                 export_dir=file.parent if file is not None else directory)
    return write_export(text, file, directory, question=answers[0].question, now=now)


@app.command()
def status(as_json: JsonOpt = False) -> None:
    """What is indexed, with which model, where."""
    s = _assistant().status()
    _emit(s, as_json, "\n".join(f"{k}: {v}" for k, v in s.items()))


@app.command(name="eval")
def evaluate(file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="A QA file, JSON lines.")],
             k: KOpt = None, as_json: JsonOpt = False) -> None:
    """Retrieval and answer metrics on a QA file."""
    from .evaluate import evaluate as run_eval

    result = run_eval(_assistant(), file, k)
    summary = {key: v for key, v in result.items() if key != "per_question"}
    _emit(result, as_json, json.dumps(summary, indent=2))


def _port_free(address: str, port: int) -> None:
    """Bind the port as Streamlit will, so a taken one is one clear line rather than Streamlit's traceback."""
    import errno
    import socket

    try:
        family, kind, proto, _, sockaddr = socket.getaddrinfo(address, port, type=socket.SOCK_STREAM,
                                                              flags=socket.AI_PASSIVE)[0]
    except socket.gaierror:
        raise RereadError(f"cannot serve on address {address!r}: not an address of this machine; "
                          "use --address 127.0.0.1") from None
    with socket.socket(family, kind, proto) as s:
        # SO_REUSEADDR as Tornado sets it: a port left in TIME_WAIT is free, one with a listener is not
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(sockaddr)
        except OSError as e:
            if e.errno == errno.EADDRINUSE:
                raise RereadError(f"port {port} on {address} is taken; "
                                  "stop what serves there or use --port N") from None
            raise RereadError(f"cannot serve on {address} port {port}: {e.strerror}; "
                              "use --address 127.0.0.1 or another --port") from None


@app.command()
def ui(port: Annotated[int, typer.Option(min=1, max=65535, envvar="STREAMLIT_SERVER_PORT", show_envvar=True,
                                         help="The port to serve on.")] = 8501,
       address: Annotated[str, typer.Option(envvar="STREAMLIT_SERVER_ADDRESS", show_envvar=True,
                                            help="The address to bind; loopback keeps the notes local.")]
       = "127.0.0.1", as_json: JsonOpt = False) -> None:
    """Start the Streamlit chat."""
    import importlib.util
    import os

    load_settings()  # a bad setting fails here, in one line
    if as_json:
        _err("reread ui serves a web page; --json changes nothing here")
    spec = importlib.util.find_spec("ui.app")
    if spec is None or spec.origin is None:
        raise RereadError("the ui package is not installed; run `pip install -e .` in the project")
    _port_free(address, port)
    # a bound address also stops Streamlit looking up the machine's external IP on the internet
    cmd = [sys.executable, "-m", "streamlit", "run", spec.origin, "--server.port", str(port),
           "--server.address", address, "--server.headless", "true", "--browser.gatherUsageStats", "false",
           "--client.toolbarMode", "minimal"]
    sys.stdout.flush()
    sys.stderr.flush()
    if os.name == "posix":
        # Streamlit takes this process's place: SIGTERM or Ctrl-C to `reread ui` reaches the server itself,
        # so stopping reread never leaves a server behind
        os.execv(sys.executable, cmd)
    import subprocess

    raise typer.Exit(subprocess.call(cmd))  # Windows: no exec; the console's Ctrl-C reaches both processes


def main() -> None:
    try:
        app()
    except RereadError as e:
        _err(f"error: {e}")
        sys.exit(1)
    except OSError as e:  # a folder that cannot be created or written: name it, no traceback
        _err(f"error: {e.strerror or e}: {e.filename or ''}; check REREAD_INDEX_DIR, --vault or --export")
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
