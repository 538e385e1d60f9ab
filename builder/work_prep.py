"""Step 0 of a build: claim the work directory (one build at a time), then start it
fresh, or with --resume check that it is this build's (same options, same inputs)."""
from __future__ import annotations

import shutil

from ngram.compressed_io import STDIN

from .config import BuildConfig
from .errors import BuildError, ResumeMismatchError
from .input_identity import check_same_inputs, describe, prepare_stdin, verify_recorded
from .inputs import iter_chunks
from .workdir import WorkDir, read_json, write_json
from .worklock import WorkDirLock


def claim_work_dir(work: WorkDir) -> WorkDirLock:
    """Lock the work directory (creating it); refuses a directory no build made."""
    root = work.root
    if root.is_dir() and not work.build_json.exists() and not work.lock_file.exists() and any(root.iterdir()):
        raise BuildError("work directory exists and is not a build's; refusing to empty it", str(root))
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise BuildError(f"cannot create the work directory: {e.strerror}", str(root)) from e
    return WorkDirLock(work.lock_file).acquire()


def prepare_work_dir(cfg: BuildConfig, paths: list[str], work: WorkDir) -> dict[str, str]:
    """A fresh work directory, or with --resume the earlier one if it is of this build
    (same options and the same inputs, see builder.input_identity). Returns the files
    to read inputs from instead of themselves (stdin: its spooled copy)."""
    saved = read_json(work.build_json) if cfg.resume and work.build_json.exists() else None
    if saved is not None:
        cfg.chunk_bytes = saved["chunk_bytes"]  # chunking must not change between attempts
        mine = cfg.fingerprint()
        if saved.get("hash") != mine["hash"] or "inputs" not in saved:
            differ = sorted(k for k in mine if k != "hash" and saved.get(k) != mine[k]) or ["builder version"]
            raise ResumeMismatchError(f"the work directory belongs to a build with other options "
                                      f"({', '.join(differ)}); rerun without --resume to start over",
                                      str(work.root))
    else:
        for entry in work.root.iterdir():  # an earlier build's leftovers; the lock is ours
            if entry.name == work.lock_file.name:
                continue
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
    work.make()
    read_from = {STDIN: str(work.stdin_spool)} if STDIN in paths else {}
    stdin_before = next((i for i in saved["inputs"] if i["path"] == STDIN), None) if saved else None
    stdin_digest = prepare_stdin(work, stdin_before) if STDIN in paths else None
    inputs = describe(paths, work, stdin_digest)
    if saved is None:
        write_json(work.build_json, {**cfg.fingerprint(), "inputs": inputs})
        return read_from
    check_same_inputs(saved["inputs"], inputs, str(work.root))
    if work.inputs_json.exists():  # the vocabulary pass had finished: check all it read
        verify_recorded(work, iter_chunks(paths, cfg.planned_chunk_bytes, cfg.text.max_line_bytes, read_from),
                        read_json(work.inputs_json))
    return read_from
