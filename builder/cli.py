"""`ngram build`: a thin click layer over builder.pipeline.build.

Errors become exit codes as in every `ngram` command (ngram.cli.ErrorMappingGroup): a
BuildError (an NgramError) or OSError is one line on stderr and exit 1; a bad option
value (BuildOptionError) is a usage error, exit 2. `python -m builder.cli` runs the
command inside that same group."""
from __future__ import annotations

import json
import sys

import click

from ngram.limits import DEFAULT_MAX_LINE_BYTES, MAX_BUILD_SHARDS, MAX_ORDER

from .config import BuildConfig, parse_cutoffs, parse_size, text_options
from .errors import BuildOptionError
from .inputs import BAD_BYTES_POLICIES


@click.command("build")
@click.argument("inputs", nargs=-1, required=True)
@click.option("-o", "--out", "out_dir", required=True, type=click.Path(), help="Model directory to publish.")
@click.option("--order", default=5, show_default=True, help=f"N: the longest n-gram (2..{MAX_ORDER}).")
@click.option("--shards", "num_shards", default=8, show_default=True,
              help=f"Number of shard files (1..{MAX_BUILD_SHARDS}).")
@click.option("--shard-seed", default=0, show_default=True, help="Seed of the sharding hash.")
@click.option("--min-count", default=None, help="Cutoffs per order 1..N, e.g. 1,1,2,2,2 (last repeats).")
@click.option("--min-word-count", default=1, show_default=True, help="Rarer words become <unk>.")
@click.option("--max-vocab", default=None, type=int, help="Keep at most this many words (with specials).")
@click.option("--lowercase", is_flag=True, help="Lowercase the text (Unicode) before tokenizing.")
@click.option("--jsonl-field", default=None, help="Input is JSON lines; take the sentence from this field.")
@click.option("--on-bad-bytes", type=click.Choice(BAD_BYTES_POLICIES), default="error", show_default=True,
              help="Invalid UTF-8: stop (naming file:line), replace with U+FFFD, or skip the line.")
@click.option("--max-line-bytes", default=DEFAULT_MAX_LINE_BYTES, show_default=True,
              help="Longest line accepted; a longer one is an error naming file:line.")
@click.option("--memory", default=None, help="Memory budget of the whole build, e.g. 2G or 25% (default 25%; at least 1M, at most all RAM).")
@click.option("--workers", default=0, help="Worker processes (default: all cores).")
@click.option("--dask", default=None, help="Run on Dask: 'local' for a LocalCluster, or tcp://HOST:PORT.")
@click.option("--work-dir", default=None, type=click.Path(), help="Spill and resume directory (default OUT.work).")
@click.option("--resume", is_flag=True, help="Reuse finished tasks of an interrupted build.")
@click.option("--keep-work", is_flag=True, help="Keep the work directory after publishing.")
@click.option("--smoothing", type=click.Choice(["stupid-backoff", "kneser-ney"]), default="stupid-backoff",
              show_default=True, help="stupid-backoff: a counts model; kneser-ney: an interpolated modified "
              "Kneser-Ney backoff model, as KenLM's lmplz estimates it.")
@click.option("--quantize", type=click.Choice(["8", "16", "none"]), default="8", show_default=True,
              help="Kneser-Ney: bits per stored log10 value; none keeps exact float32.")
@click.option("--discount-fallback", is_flag=True,
              help="Kneser-Ney: use D = 0.5, 1, 1.5 where the count-of-counts give no valid discounts.")
@click.option("--prune", default=None, help="Kneser-Ney: lmplz's count pruning, thresholds per order 1..N "
              "(e.g. 0,0,1: drop trigrams and longer seen once; non-decreasing, the last repeats).")
@click.option("--limit-vocab", default=None, type=click.Path(),
              help="Kneser-Ney: lmplz's --limit_vocab_file: n-grams holding a word not in FILE (words "
              "separated by whitespace) leave the model, their probability mass kept in the backoffs.")
@click.option("--quiet", is_flag=True, help="No progress bars.")
@click.option("--json-summary", is_flag=True, help="Print the summary as JSON.")
@click.option("--successors/--no-successors", default=False, show_default=True,
              help="Add the successor index for next-word prediction (docs/PREDICTION.md).")
def build(inputs, out_dir, order, num_shards, shard_seed, min_count, min_word_count, max_vocab, lowercase,
          jsonl_field, on_bad_bytes, max_line_bytes, memory, workers, dask, work_dir, resume, keep_work, smoothing,
          quantize, discount_fallback, prune, limit_vocab, quiet, json_summary, successors):
    """Build a counts model from INPUTS (files, globs, directories, - for stdin;
    plain, .gz, .zst or .xz)."""
    from . import pipeline, progress
    try:
        cfg = BuildConfig(
            inputs=list(inputs), out_dir=out_dir, order=order, num_shards=num_shards, shard_seed=shard_seed,
            cutoffs=parse_cutoffs(min_count, order) if 2 <= order else [], min_word_count=min_word_count,
            max_vocab=max_vocab,
            text=text_options(lowercase, jsonl_field, on_bad_bytes, max_line_bytes),
            memory=parse_size(memory) if memory else 0, workers=workers, dask=dask, work_dir=work_dir,
            resume=resume, keep_work=keep_work, progress=not quiet,
            kn=_kn_options(smoothing, quantize, discount_fallback, prune, limit_vocab))
        summary = pipeline.build(cfg)
        if successors:
            from ngram.successors import write_index
            write_index(out_dir)
    except BuildOptionError as e:  # a bad option value is a usage error: exit 2
        raise click.BadParameter(e.reason, param_hint=e.option) from None
    except KeyboardInterrupt:
        click.echo("interrupted; rerun with --resume to continue", err=True)
        sys.exit(130)
    if json_summary:
        click.echo(json.dumps(summary, indent=2))
    else:
        click.echo(progress.format_summary(summary), err=True)


def _kn_options(smoothing: str, quantize: str, discount_fallback: bool, prune: str | None,
                limit_vocab: str | None):
    if smoothing != "kneser-ney":
        if quantize != "8" or discount_fallback or prune or limit_vocab:
            raise BuildOptionError("applies to --smoothing kneser-ney only",
                                   "--quantize/--discount-fallback/--prune/--limit-vocab")
        return None
    from .kn.options import DEFAULT_FALLBACK, KnOptions
    try:
        thresholds = tuple(int(v) for v in prune.split(",")) if prune else ()
    except ValueError:
        raise BuildOptionError(f"wants integers separated by commas, got {prune!r}", "--prune") from None
    return KnOptions(quantize=quantize, discount_fallback=DEFAULT_FALLBACK if discount_fallback else None,
                     prune=thresholds, limit_vocab=limit_vocab)


def main(args: list[str] | None = None) -> None:
    """`python -m builder.cli ARGS` = `ngram build ARGS`, with the same error mapping."""
    from ngram.cli import ErrorMappingGroup
    group = ErrorMappingGroup(commands={"build": build})
    group.main(["build", *(sys.argv[1:] if args is None else args)], prog_name="ngram")


if __name__ == "__main__":
    main()
