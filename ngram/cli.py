"""The `ngram` command: a thin click layer over the library.

Core commands live here; other packages add theirs through the `ngram.commands`
entry-point group, loaded only when named (so `ngram info` never imports gRPC or Dask).

Errors are turned into exit codes in one place, `ErrorMappingGroup` (also the group of
`python -m shard_server`): an `NgramError` (bad model, file or query) or an `OSError`
(a missing file, a full disk, a port in use) is one line on stderr and exit code 1; a
usage error (click's) is exit code 2; anything else is a bug and ends in a traceback.
"""
from __future__ import annotations

import json
import sys
from importlib.metadata import entry_points

import click

from .errors import InvalidQueryError, NgramError
from .limits import DEFAULT_ALPHA

COMMANDS_GROUP = "ngram.commands"
CHUNK_LINES = 50_000  # sentences scored per lookup: bounds memory on big inputs
EXIT_ERROR = 1  # a bad model, file or query (README: "Querying from the command line"); usage errors: click's 2


class ErrorMappingGroup(click.Group):
    """A click group that maps library errors to one line on stderr and exit code 1."""

    prog = "ngram"

    def invoke(self, ctx):
        from .kernels import drop_stale_numba_caches
        drop_stale_numba_caches()  # before any command loads a cached kernel
        try:
            return super().invoke(ctx)
        except BrokenPipeError:  # `ngram count ... | head`
            sys.stderr.close()
            ctx.exit(EXIT_ERROR)
        except (NgramError, OSError) as e:
            click.echo(f"{self.prog}: error: {_one_line(e)}", err=True)
            ctx.exit(EXIT_ERROR)


def _one_line(e: Exception) -> str:
    return " ".join(str(e).split("\n")) or type(e).__name__


class LazyGroup(ErrorMappingGroup):
    """Core commands plus the entry points of `ngram.commands`, imported on demand."""

    def _entry_points(self) -> dict:
        return {ep.name: ep for ep in entry_points(group=COMMANDS_GROUP)}

    def list_commands(self, ctx):
        return sorted(set(super().list_commands(ctx)) | set(self._entry_points()))

    def get_command(self, ctx, name):
        cmd = super().get_command(ctx, name)
        if cmd is not None:
            return cmd
        ep = self._entry_points().get(name)
        if ep is None:
            return None
        try:
            return ep.load()
        except ImportError as e:
            return _unavailable(name, ep.value, e)


def _unavailable(name: str, target: str, error: Exception) -> click.Command:
    @click.command(name, context_settings={"ignore_unknown_options": True}, add_help_option=False)
    @click.argument("args", nargs=-1, type=click.UNPROCESSED)
    def cmd(args):
        raise click.ClickException(f"'ngram {name}' is unavailable: cannot import {target} ({error})")
    return cmd


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="ngram-server")
def main():
    """Compressed, sharded n-gram language models: build, inspect, query, serve."""


# ----------------------------------------------------------------------------- info / verify

@main.command()
@click.argument("model_dir", type=click.Path(file_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def info(model_dir, as_json):
    """Order, vocabulary, n-grams per order and per shard, size, model id."""
    from .model import Model
    model = Model.open(model_dir)
    try:
        i = model.info()
    finally:
        model.close()
    if as_json:
        click.echo(json.dumps(i, indent=2, sort_keys=True))
        return
    click.echo(f"model id      {i['model_id']}")
    click.echo(f"path          {i['path']}")
    click.echo(f"order         {i['order']}")
    click.echo(f"format        v{i['format_version']}" + ("" if i["format_version"] >= 2 else
                                                          " (ngram convert rewrites it as v2)"))
    click.echo(f"value kind    {i['value_kind']} (quantization {i['quantization']})")
    click.echo(f"vocabulary    {i['vocab_size']:,} words")
    corpus = i.get("corpus") or {}
    if corpus:
        click.echo("corpus        " + ", ".join(f"{v:,} {k}" for k, v in corpus.items()))
    click.echo(f"n-grams       {i['ngrams_total']:,}")
    for k, n in enumerate(i["ngrams"], start=1):
        click.echo(f"  order {k:<2}    {n:,}")
    click.echo(f"shards        {i['num_shards']}")
    for s, per in enumerate(i["ngrams_per_shard"]):  # orders 2..N; unigrams are in every shard
        click.echo(f"  shard {s:<5}  {sum(per):,} = " + " + ".join(f"{n:,}" for n in per) + " (orders 2..N)")
    click.echo(f"shard bytes   {i['bytes']:,} ({i['bytes_per_ngram']:.3f} bytes per n-gram)")
    click.echo(f"all files     {i['bytes_all_files']:,} ({i['bytes_per_ngram_all_files']:.3f} bytes per n-gram)")


@main.command()
@click.argument("model_dir", type=click.Path(file_okay=False))
def verify(model_dir):
    """Check every file's size and checksum; prints OK or the first error."""
    from .model import Model
    model = Model.open(model_dir, verify=True)
    model.close()
    click.echo("OK")


@main.command()
@click.argument("model_dir", type=click.Path(file_okay=False))
@click.option("--out", "out_dir", type=click.Path(file_okay=False),
              help="Write the converted model here instead of replacing MODEL_DIR.")
@click.option("--format-version", "version", type=click.IntRange(1, 2), default=2, show_default=True,
              help="Shard format to write (1 only for comparisons).")
def convert(model_dir, out_dir, version):
    """Rewrite a model's shards in the current format (docs/FORMAT_V2.md), atomically.
    A successor index is dropped (it names the old model id): rebuild it with
    `ngram index-successors`."""
    from .convert import convert_model
    from .manifest import read_manifest
    had_successors = "successors" in read_manifest(model_dir)
    m = convert_model(model_dir, out_dir, version)
    total = sum(f["bytes"] for name, f in m["files"].items() if name.startswith("shard-"))
    click.echo(f"{out_dir or model_dir}: format {version}, {total:,} shard bytes, model id {m['model_id']}")
    if had_successors:
        click.echo("the successor index was left out (it names the old model id): run ngram index-successors")


# ----------------------------------------------------------------------------- count / score

def _open(args: tuple[str, ...], cluster: str | None):
    """(backend, remaining args): the model is the first argument unless --cluster."""
    from .backend import open_backend
    if cluster:
        return open_backend(cluster), list(args)
    if not args:
        raise click.UsageError("missing the model directory (or --cluster FILE)")
    return open_backend(args[0]), list(args[1:])


def _input_lines(rest: list[str]) -> tuple[list[bytes], bool]:
    """Lines of the input named by the first argument (a file or '-'), else stdin when no
    argument is left; (lines, True) if the arguments themselves are the lines."""
    from pathlib import Path
    if rest and rest[0] != "-" and not (len(rest) == 1 and Path(rest[0]).is_file()):
        return [_argument_bytes(i, a) for i, a in enumerate(rest, start=1)], True
    if len(rest) > 1:
        raise click.UsageError("give either one input file (or '-') or n-grams as arguments")
    from .compressed_io import read_all
    data = read_all(rest[0] if rest else "-")
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    return lines, False


def _argument_bytes(position: int, arg: str) -> bytes:
    """An n-gram given as an argument, as UTF-8. An argument that is not UTF-8 text (its
    undecodable bytes arrive as lone surrogates) is refused, as a str query with a lone
    surrogate is everywhere (ngram.tokenizer); bytes read from a file are taken as given."""
    try:
        return arg.encode("utf-8")
    except UnicodeEncodeError as e:
        raise InvalidQueryError(f"argument {position} is not UTF-8 text: a lone surrogate "
                                f"U+{ord(arg[e.start]):04X} at character {e.start + 1} "
                                "(read n-grams that are not UTF-8 from a file)") from None


@main.command(context_settings={"ignore_unknown_options": False})
@click.argument("args", nargs=-1, metavar="[DIR] [FILE|-|NGRAM...]")
@click.option("--cluster", type=click.Path(dir_okay=False), help="Ask the servers of this cluster file.")
def count(args, cluster):
    """Exact counts of n-grams: as arguments, or one per line from FILE or stdin."""
    backend, rest = _open(args, cluster)
    try:
        lines, from_args = _input_lines(rest)
        if not from_args:  # blank lines of a query file are skipped; an empty argument is an error
            lines = [ln for ln in lines if backend.tokenizer.split(ln)]
        from .counting import ngram_counts
        counts = ngram_counts(backend, lines)
    finally:
        backend.close()
    out = sys.stdout
    for line, c in zip(lines, counts.tolist()):
        out.write(f"{b' '.join(line.split()).decode('utf-8', 'replace')}\t{c}\n")
    out.flush()


@main.command()
@click.argument("args", nargs=-1, metavar="[DIR] [FILE|-]")
@click.option("--cluster", type=click.Path(dir_okay=False), help="Ask the servers of this cluster file.")
@click.option("--alpha", type=click.FloatRange(0, 1, min_open=True), default=DEFAULT_ALPHA, show_default=True,
              help="Stupid Backoff's penalty, in (0, 1].")
def score(args, cluster, alpha):
    """Score sentences (one per line, FILE or stdin) like KenLM's `query`."""
    from .scoring import PerplexityStats, Scorer
    backend, rest = _open(args, cluster)
    try:
        if len(rest) > 1:
            raise click.UsageError("give one input file or '-'")
        lines, _ = _input_lines(rest)
        scorer = Scorer(backend, alpha=alpha)
        stats = PerplexityStats()
        out = sys.stdout
        for i in range(0, len(lines), CHUNK_LINES):
            chunk = lines[i:i + CHUNK_LINES]
            for line, s in zip(chunk, scorer.score_sentences(chunk)):
                out.write(f"Total: {s.total:.6f} OOV: {s.num_oov}\t{line.decode('utf-8', 'replace')}\n")
                stats = stats + PerplexityStats(s.total, float(s.log10[~s.oov].sum()), len(s), s.num_oov)
    finally:
        backend.close()
    summary = stats.as_dict()
    out.write(f"Perplexity including OOVs:\t{summary['perplexity']:.6f}\n"
              f"Perplexity excluding OOVs:\t{summary['perplexity_excluding_oov']:.6f}\n"
              f"OOVs:\t{summary['oov']}\n"
              f"Tokens:\t{summary['tokens']}\n")
    out.flush()


if __name__ == "__main__":
    main()
