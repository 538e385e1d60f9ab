"""Builder: corpus of any size -> sharded model, with bounded memory, on a local process
pool or a Dask cluster. ``builder.pipeline.build`` is the entry point; ``builder.cli``
is the thin ``ngram build`` command over it."""
