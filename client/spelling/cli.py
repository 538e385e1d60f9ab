"""`ngram spell MODEL|--cluster FILE [FILE|-] [--json]` and `ngram spell serve ...`.

One line in, one line out: each input line (FILE, or stdin when FILE is - or absent) is
one text; the output line is its corrected form, or with --json the
`Correction.to_dict()` of it. Lines are corrected in batches of --batch lines (one
search each). `ngram spell serve ...` hands its arguments to the service's command
(client.spelling.service_cli:serve), imported only then; a model directory named
"serve" is spelled ./serve. Registered in the `ngram.commands` entry-point group;
`python -m client.spelling.cli spell ...` runs it too. Errors are one line and exit 1
(ngram.cli.ErrorMappingGroup).
"""
from __future__ import annotations

import json
import sys

import click

from ngram.cli import ErrorMappingGroup
from ngram.errors import InvalidQueryError
from ngram.limits import DEFAULT_SPELL_ALTERNATIVES, DEFAULT_SPELL_BEAM, DEFAULT_SPELL_LAMBDA

SERVE = "serve"
LINES_PER_BATCH = 64  # default --batch: lines searched together


class _SpellCommand(click.Command):
    """`spell` itself, except when its first argument is `serve`: then the arguments go
    to the service's click command (a group with a default command would take MODEL
    for a subcommand name)."""

    def parse_args(self, ctx, args):
        if args and args[0] == SERVE:
            ctx.meta["spell.serve_args"] = list(args[1:])
            return []
        return super().parse_args(ctx, args)

    def invoke(self, ctx):
        rest = ctx.meta.pop("spell.serve_args", None)
        if rest is None:
            return super().invoke(ctx)
        from client.spelling.service_cli import serve
        with serve.make_context(SERVE, rest, parent=ctx) as sub:
            return serve.invoke(sub)

    def format_usage(self, ctx, formatter):
        super().format_usage(ctx, formatter)
        formatter.write_text(f"  or:  {ctx.command_path} {SERVE} --help   (the gRPC/HTTP service)")


@click.command("spell", cls=_SpellCommand)
@click.argument("model", required=False)
@click.argument("file", required=False)
@click.option("--cluster", type=click.Path(exists=True, dir_okay=False), help="Ask a cluster (cluster file).")
@click.option("--json", "as_json", is_flag=True, help="One JSON Correction per line.")
@click.option("--beam", type=click.IntRange(1, 10_000), default=DEFAULT_SPELL_BEAM, show_default=True,
              help="Hypotheses kept per token position.")
@click.option("--lam", type=click.FloatRange(0.0), default=DEFAULT_SPELL_LAMBDA, show_default=True,
              help="Weight of the error model against the language model.")
@click.option("--alternatives", type=click.IntRange(0, 100), default=DEFAULT_SPELL_ALTERNATIVES,
              show_default=True, help="Alternatives listed per change (--json).")
@click.option("--batch", type=click.IntRange(1, 1000), default=LINES_PER_BATCH, show_default=True,
              help="Lines corrected together.")
def spell(model, file, cluster, as_json, beam, lam, alternatives, batch):
    """Correct the spelling of each line of FILE (- or none: stdin) with MODEL (a model
    directory) or --cluster FILE, in context. Prints each corrected line (--json: the
    text, the corrected text and each change with its span, confidence and
    alternatives)."""
    if cluster is not None:
        if file is not None:
            raise click.UsageError("with --cluster give at most one FILE")
        model, file, target = None, model, cluster
    elif model is None:
        raise click.UsageError("give a MODEL directory or --cluster FILE")
    else:
        target = model
    from client.spelling.speller import Speller
    stream = click.open_file(file or "-", "rb")
    with Speller(target, lam=lam, beam=beam, alternatives=alternatives) as sp, stream:
        lines: list[str] = []
        for number, raw in enumerate(stream, 1):
            lines.append(_decode(raw, file or "<stdin>", number))
            if len(lines) == batch:
                _emit(sp.correct(lines), as_json)
                lines = []
        if lines:
            _emit(sp.correct(lines), as_json)


def _decode(raw: bytes, name: str, number: int) -> str:
    line = raw[:-1] if raw.endswith(b"\n") else raw
    try:
        return line.decode("utf-8")
    except UnicodeDecodeError as e:
        raise InvalidQueryError(f"{name}:{number}: byte {e.start} is not UTF-8 ({e.reason})") from None


def _emit(corrections, as_json: bool) -> None:
    out = sys.stdout
    for c in corrections:
        out.write((json.dumps(c.to_dict(), ensure_ascii=False) if as_json else c.corrected) + "\n")
    out.flush()


@click.group(cls=ErrorMappingGroup)
def main():
    """The spelling commands (also `ngram spell`)."""


main.add_command(spell)

if __name__ == "__main__":
    main()
