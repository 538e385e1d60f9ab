"""`ngram import-arpa` and `ngram export-arpa`: a thin click layer over ngram.arpa.
Errors become messages and exit codes in ngram.cli's group, like every command's."""
from __future__ import annotations

import json
import sys
import time

import click

from .limits import QUANTIZATIONS


@click.command("import-arpa")
@click.argument("arpa_file", type=click.Path(exists=True, dir_okay=False))
@click.option("-o", "--out", "out_dir", required=True, type=click.Path(), help="Model directory to publish.")
@click.option("--shards", "num_shards", type=click.IntRange(min=1), default=1, show_default=True,
              help="Number of shard files.")
@click.option("--shard-seed", type=int, default=0, show_default=True, help="Seed of the sharding hash.")
@click.option("--quantize", "quantization", type=click.Choice(QUANTIZATIONS),
              default="8", show_default=True,
              help="Bits per stored log10 probability and backoff; none keeps exact float32.")
@click.option("--json-summary", is_flag=True, help="Print the summary as JSON.")
@click.option("--successors/--no-successors", default=False, show_default=True,
              help="Add the successor index for next-word prediction (docs/PREDICTION.md).")
def import_arpa(arpa_file, out_dir, num_shards, shard_seed, quantization, json_summary, successors):
    """Import ARPA_FILE (plain, .gz, .zst or .xz) as a backoff model directory."""
    from .arpa import import_arpa as run

    t0 = time.perf_counter()
    manifest = run(arpa_file, out_dir, num_shards=num_shards, quantization=quantization, shard_seed=shard_seed)
    if successors:
        from .successors import write_index
        write_index(out_dir)
    src = manifest["source"]
    shard_bytes = sum(f["bytes"] for n, f in manifest["files"].items() if n.startswith("shard-"))
    summary = {
        "model": out_dir, "model_id": manifest["model_id"], "order": manifest["order"],
        "vocab_size": manifest["vocab_size"], "ngrams": src["ngrams"], "blank_nodes": src["blank_nodes"],
        "added_unk": src["added_unk"], "shards": num_shards, "quantization": quantization,
        "shard_bytes": shard_bytes, "bytes_per_ngram": round(shard_bytes / max(1, sum(src["ngrams"])), 3),
        "seconds": round(time.perf_counter() - t0, 2),
    }
    if json_summary:
        click.echo(json.dumps(summary))
    else:
        click.echo(f"imported {arpa_file}: order {summary['order']}, {sum(src['ngrams']):,} n-grams "
                   f"{src['ngrams']}, vocabulary {summary['vocab_size']:,}"
                   + (", <unk> added at -100" if src["added_unk"] else "")
                   + (f", {sum(src['blank_nodes'])} blank nodes for missing suffixes" if sum(src["blank_nodes"]) else ""),
                   err=True)
        click.echo(f"wrote {out_dir}: {num_shards} shard(s), quantization {quantization}, "
                   f"{shard_bytes:,} bytes ({summary['bytes_per_ngram']} per n-gram) in {summary['seconds']} s",
                   err=True)


@click.command("export-arpa")
@click.argument("model_dir", type=click.Path(exists=True, file_okay=False))
@click.argument("out", required=False, type=click.Path(dir_okay=False))
def export_arpa(model_dir, out):
    """Write backoff model MODEL_DIR as an ARPA file OUT (.gz, .zst, .xz compress;
    standard output without OUT)."""
    from .arpa import export_arpa as run

    counts = run(model_dir, out)
    if out:
        click.echo(f"wrote {out}: {sum(counts):,} n-grams {counts}", err=True)
    sys.stdout.flush()
