"""Where tasks run: a local process pool (default) or a Dask cluster, behind one small
interface, so both run the very same task functions.

`run_tasks` keeps at most `window` tasks in flight (bounding the driver's read-ahead),
hands each result to a callback as it arrives, and turns the ways a worker can die into
a BuildError that says what to do (rerun with --resume).
"""
from __future__ import annotations

import concurrent.futures as cf
import errno
import multiprocessing
from collections.abc import Callable, Iterable

from .errors import BuildError

_PRELOAD = ["builder.vocab_pass", "builder.map_stage", "builder.reduce_stage"]
RESUME_HINT = "the work directory is kept: rerun the same command with --resume to finish"


class LocalExecutor:
    """A pool of worker processes started by a forkserver that has imported the builder
    (fast start, and no inherited state from the driver)."""

    name = "processes"

    def __init__(self, workers: int):
        self._ctx = multiprocessing.get_context("forkserver")
        self._ctx.set_forkserver_preload(_PRELOAD)
        self.workers = workers
        self.pool = cf.ProcessPoolExecutor(max_workers=workers, mp_context=self._ctx)

    def fresh_workers(self) -> None:
        """Replace the worker processes (between phases). A worker's heap keeps the
        fragments of every task it ran, and reduce tasks, the build's peak, then start
        from there: measured at the peak, workers of 400-427 MB after a 10x corpus's map
        tasks, 321-370 MB when fresh (the tree 1182 -> 993 MB for 10x, 1115-1130 ->
        1007-1073 MB for 1x). Costs a fork from the preloaded forkserver per worker."""
        self.pool.shutdown(wait=True)
        self.pool = cf.ProcessPoolExecutor(max_workers=self.workers, mp_context=self._ctx)

    def submit(self, fn: Callable, *args):
        return self.pool.submit(fn, *args)

    def wait_any(self, futures):
        return cf.wait(futures, return_when=cf.FIRST_COMPLETED)

    def cancel(self, futures) -> None:
        for f in futures:
            f.cancel()

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)


class DaskExecutor:
    """Tasks on a Dask cluster: an existing scheduler (``tcp://HOST:PORT``) or a
    LocalCluster started here (``local``). The work directory must be on storage every
    worker sees."""

    name = "dask"

    def __init__(self, address: str, workers: int):
        from distributed import Client, LocalCluster
        self.cluster = None
        try:
            if address == "local":
                self.cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                            dashboard_address=None, memory_limit=0)
                self.client = Client(self.cluster)
            else:
                self.client = Client(address, timeout=30)
        except (OSError, TimeoutError) as e:
            raise BuildError(f"cannot reach the Dask scheduler {address}: {e}") from e
        self.workers = max(1, len(self.client.scheduler_info().get("workers", {}))) or workers

    def submit(self, fn: Callable, *args):
        # pure=False: a rerun must run again, not reuse a result Dask may remember
        return self.client.submit(fn, *args, pure=False)

    def wait_any(self, futures):
        from distributed import wait
        done, pending = wait(list(futures), return_when="FIRST_COMPLETED")
        return set(done), set(pending)

    def cancel(self, futures) -> None:
        if futures:
            self.client.cancel(list(futures))

    def fresh_workers(self) -> None:
        """Dask manages its workers' lifetimes (and may share them): left as they are."""

    def close(self) -> None:
        self.client.close()
        if self.cluster is not None:
            self.cluster.close()


def make_executor(dask: str | None, workers: int):
    return DaskExecutor(dask, workers) if dask else LocalExecutor(workers)


def run_tasks(executor, tasks: Iterable[tuple[Callable, tuple]], on_result: Callable, window: int) -> None:
    """Run `tasks` (fn, args), at most `window` at a time; `on_result(result)` for each."""
    pending: set = set()
    it = iter(tasks)
    exhausted = False
    try:
        while True:
            while not exhausted and len(pending) < window:
                try:
                    fn, args = next(it)
                except StopIteration:
                    exhausted = True
                    break
                pending.add(executor.submit(fn, *args))
            if not pending:
                return
            done, pending = executor.wait_any(pending)
            for f in done:
                on_result(_result(f))
    except cf.process.BrokenProcessPool as e:
        # raised by result() or, when the death is noticed first, by the next submit()
        executor.cancel(pending)
        raise _worker_died() from e
    except BaseException:
        executor.cancel(pending)
        raise


def _worker_died() -> BuildError:
    return BuildError(f"a worker process died (killed, or out of memory?); {RESUME_HINT}")


def _result(future):
    try:
        return future.result()
    except BuildError:
        raise
    except cf.process.BrokenProcessPool as e:
        raise _worker_died() from e
    except OSError as e:
        if e.errno in (errno.ENOSPC, errno.EDQUOT):
            raise BuildError(f"disk full writing {e.filename or 'the work directory'}; free space, then "
                             f"{RESUME_HINT.split(': ')[1]}") from e
        raise BuildError(f"{e.filename or 'I/O'}: {e.strerror or e}; {RESUME_HINT}") from e
    except Exception as e:
        if type(e).__name__ == "KilledWorker":
            raise BuildError(f"a Dask worker died running a task; {RESUME_HINT}") from e
        raise
