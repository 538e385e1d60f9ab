"""`ngram index-successors`, `ngram predict` and `ngram complete`: a thin click layer over
ngram.successors, ngram.predict and ngram.complete (registered in the `ngram.commands`
entry-point group; `python -m ngram.predict_cli` runs them too). Errors become messages
and exit codes in ngram.cli's group."""
from __future__ import annotations

import json

import click

from .cli import ErrorMappingGroup
from .limits import DEFAULT_COMPLETE_K, DEFAULT_COMPLETE_WORDS, DEFAULT_PREDICT_K, MAX_COMPLETE_WORDS, MAX_PREDICT_K


@click.command("index-successors")
@click.argument("model_dir", type=click.Path(exists=True, file_okay=False))
def index_successors(model_dir):
    """Add the successor index (next-word prediction) to MODEL_DIR in place, atomically;
    the model id does not change."""
    from .successors import write_index
    block = write_index(model_dir)
    size = sum(f["bytes"] for f in block["files"].values())
    click.echo(f"indexed {model_dir}: {len(block['files'])} successor files, {size:,} bytes", err=True)


class _Target:
    """A model directory (in-process Predictor) or a cluster file (client)."""

    def __init__(self, model: str | None, cluster: str | None):
        if (model is None) == (cluster is None):
            raise click.UsageError("give a MODEL directory or --cluster FILE (one of them)")
        if cluster is not None:
            # the core never imports the client: the cluster backend and its predictor are
            # found through the `ngram.backends` entry points, as ngram.backend does
            from importlib.metadata import entry_points
            from .backend import open_backend
            eps = [ep for ep in entry_points(group="ngram.backends") if ep.name == "predictor"]
            if not eps:
                raise click.UsageError("--cluster needs the client's 'predictor' entry point in 'ngram.backends' "
                                       "(pip install -e . in the full repository)")
            backend = open_backend(cluster)
            self.predict = eps[0].load()(backend).predict
            self.tokenizer, self.vocab = backend.tokenizer, backend.vocab
            self._close = backend.close
        else:
            from .model import Model
            from .predict import Predictor
            from .tokenizer import Tokenizer
            m = Model.open(model)
            p = Predictor.open(m)
            self.predict = p.predict
            self.tokenizer, self.vocab = Tokenizer.from_manifest(m.manifest), m.vocab

            def close():
                p.close()
                m.close()
            self._close = close

    def close(self):
        self._close()


def _split_target(model_or_text, texts, cluster):
    if cluster is None:
        if model_or_text is None:
            raise click.UsageError("missing MODEL")
        return model_or_text, list(texts)
    return None, ([model_or_text] if model_or_text is not None else []) + list(texts)


@click.command("predict")
@click.argument("model", required=False)
@click.argument("texts", nargs=-1)
@click.option("--cluster", type=click.Path(exists=True, dir_okay=False), help="Ask a cluster (cluster file).")
@click.option("-k", "k", type=click.IntRange(1, MAX_PREDICT_K), default=DEFAULT_PREDICT_K, show_default=True,
              help="Continuations per context.")
@click.option("--prefix", default=None, help="Only words starting with this (a partly typed word).")
@click.option("--json", "as_json", is_flag=True, help="JSON output.")
def predict(model, texts, cluster, k, prefix, as_json):
    """The K most likely next words after each context text (<s> is put first; --prefix
    completes a partly typed next word). Output: context, word and log10 score,
    tab-separated, best first."""
    from .complete import predict_text
    model, texts = _split_target(model, texts, cluster)
    if not texts:
        raise click.UsageError("give at least one context text")
    target = _Target(model, cluster)
    try:
        results = predict_text(target.predict, target.tokenizer, target.vocab, texts, k, prefix=prefix)
    finally:
        target.close()
    if as_json:
        click.echo(json.dumps([{"context": t, "predictions": [{"word": w, "log10": s} for w, s in r]}
                               for t, r in zip(texts, results)]))
        return
    for t, r in zip(texts, results):
        for w, s in r:
            click.echo(f"{t}\t{w}\t{s:.6f}")


@click.command("complete")
@click.argument("model", required=False)
@click.argument("texts", nargs=-1)
@click.option("--cluster", type=click.Path(exists=True, dir_okay=False), help="Ask a cluster (cluster file).")
@click.option("-k", "k", type=click.IntRange(1, MAX_PREDICT_K), default=DEFAULT_COMPLETE_K, show_default=True,
              help="Completions (and beam width).")
@click.option("--max-words", type=click.IntRange(1, MAX_COMPLETE_WORDS), default=DEFAULT_COMPLETE_WORDS,
              show_default=True,
              help="Longest completion in words.")
@click.option("--prefix", default=None, help="The first word starts with this (a partly typed word).")
@click.option("--json", "as_json", is_flag=True, help="JSON output.")
def complete(model, texts, cluster, k, max_words, prefix, as_json):
    """The K most probable completions of each text, up to --max-words words (beam
    search; a completion that predicts the sentence end stops there, marked </s>)."""
    from .complete import complete as run
    model, texts = _split_target(model, texts, cluster)
    if not texts:
        raise click.UsageError("give at least one text")
    target = _Target(model, cluster)
    try:
        results = [run(target.predict, target.tokenizer, target.vocab, t, k, max_words, prefix=prefix) for t in texts]
    finally:
        target.close()
    if as_json:
        click.echo(json.dumps([{"text": t, "completions": [{"words": list(c.words), "log10": c.log10,
                                                            "ends_sentence": c.ended} for c in r]}
                               for t, r in zip(texts, results)]))
        return
    for t, r in zip(texts, results):
        for c in r:
            click.echo(f"{t}\t{' '.join(c.words) + (' </s>' if c.ended else '')}\t{c.log10:.6f}")


@click.group(cls=ErrorMappingGroup)
def main():
    """Prediction commands (also available as `ngram index-successors|predict|complete`)."""


for _cmd in (index_successors, predict, complete):
    main.add_command(_cmd)

if __name__ == "__main__":
    main()
