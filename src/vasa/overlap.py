"""Overlapping the stages of a frame loop on threads, through bounded queues (issue 13).

The heavy calls of our stages release the GIL while they work: MediaPipe's graph (a ctypes
call), PyAV's codecs, OpenCV and ONNX Runtime. So on a 2-core machine a stage moved to a thread
runs on the other core: decoding ahead of the tracker (`Prefetch`), encoding behind the
renderer (`Drain`), tracking while the portrait is loaded (`Background`), and a frame's first
half beside the previous frame's second (`pipelined`: the renderer's warp and its refiners).

Each helper keeps the order of its items, holds at most `depth` of them (memory stays bounded
whatever the video's length), raises an error of its thread in the caller (where the caller
would have met it without the thread), and stops its thread when the caller leaves early (an
error of its own, Ctrl-C). Threads are daemons: one stuck in a C call never keeps the process
alive after the main thread has gone. A signal can still land between a helper's thread
starting and the `with` block that would close it; `stop_all` (the CLI's Ctrl-C and SIGTERM
paths) stops such orphans before the interpreter shuts down, where a daemon thread caught in
MediaPipe's or ONNX Runtime's C++ aborted the process ("FATAL: exception not rethrown").
"""

from __future__ import annotations

import queue
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Iterator
from typing import Generic, Self, TypeVar

T = TypeVar("T")
R = TypeVar("R")
S = TypeVar("S")


# Every helper whose thread may still run, for `stop_all`.
_LIVE: weakref.WeakSet = weakref.WeakSet()


def stop_all() -> None:
    """Stop and join the thread of every helper still running, owned or orphaned (each
    helper's stop is idempotent). For the main thread's way out after Ctrl-C or SIGTERM."""
    for helper in list(_LIVE):
        helper.close()


class _End:
    """Queue marker: the source is exhausted."""


class _Failed:
    """Queue marker: the source raised `error`."""

    def __init__(self, error: BaseException) -> None:
        self.error = error


def _drain(q: queue.Queue) -> None:
    """Empty `q` without blocking (wakes a thread blocked putting into it)."""
    try:
        while True:
            q.get_nowait()
    except queue.Empty:
        pass


class Prefetch(Generic[T]):
    """Iterates `source` on a thread, up to `depth` items ahead of the consumer.

    Iterating the Prefetch yields the source's items in order; an error the source raises is
    raised by `next()` after the items before it. `close()` (or leaving the `with` block) stops
    the thread: it finishes the item it is computing, closes the source (a generator's
    `finally` runs on the thread that iterated it) and is joined. busy_s: seconds spent
    inside the source on the thread (its work, whether or not the consumer waited for it).
    """

    def __init__(self, source: Iterable[T], depth: int = 8, name: str = "prefetch") -> None:
        if depth < 1:
            raise ValueError(f"depth must be >= 1, got {depth}")
        self._source = iter(source)
        self._queue: queue.Queue = queue.Queue(depth)
        self._stop = threading.Event()
        self._done = False
        self.busy_s = 0.0
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        _LIVE.add(self)
        self._thread.start()

    def _put(self, item: object) -> bool:
        """Put unless stopped; False if stopped (close() empties the queue to wake us)."""
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                t0 = time.perf_counter()
                try:
                    item = next(self._source)
                except StopIteration:
                    self._put(_End())
                    return
                finally:
                    self.busy_s += time.perf_counter() - t0
                if not self._put(item):
                    return
        except BaseException as err:  # noqa: BLE001 - handed to the consumer, raised there
            self._put(_Failed(err))
        finally:
            close = getattr(self._source, "close", None)
            if close is not None:
                close()

    def __iter__(self) -> Iterator[T]:
        return self

    def __next__(self) -> T:
        if self._done:
            raise StopIteration
        item = self._queue.get()
        if isinstance(item, _End):
            self._done = True
            raise StopIteration
        if isinstance(item, _Failed):
            self._done = True
            raise item.error
        return item

    def close(self) -> None:
        """Stop the thread and wait for it (it may be finishing one item). Idempotent."""
        self._done = True
        self._stop.set()
        _drain(self._queue)
        self._thread.join()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Drain(Generic[T]):
    """Calls `sink(item)` on a thread for each item given to `put()`, in order; `put()` waits
    while `depth` items are queued.

    `finish()` waits until every item has been sunk. An error the sink raises is raised by the
    next `put()` or by `finish()`; items after it are dropped. `close()` stops without sinking
    what is still queued. As a context manager: `finish()` on a normal exit, `close()` when
    the block raises. busy_s: seconds spent inside the sink on the thread.
    """

    def __init__(self, sink: Callable[[T], object], depth: int = 4, name: str = "drain") -> None:
        if depth < 1:
            raise ValueError(f"depth must be >= 1, got {depth}")
        self._sink = sink
        self._queue: queue.Queue = queue.Queue(depth)
        self._stop = threading.Event()
        self._error: BaseException | None = None
        self.busy_s = 0.0
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        _LIVE.add(self)
        self._thread.start()

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if isinstance(item, _End):
                return
            if self._error is not None or self._stop.is_set():
                continue  # dropped: keep taking items so put() never blocks for ever
            t0 = time.perf_counter()
            try:
                self._sink(item)
            except BaseException as err:  # noqa: BLE001 - raised in the caller by put/finish
                self._error = err
            finally:
                self.busy_s += time.perf_counter() - t0

    def put(self, item: T) -> None:
        """Queue `item` for the sink; raises the sink's error if it has failed."""
        if self._error is not None:
            raise self._error
        if not self._thread.is_alive():
            raise RuntimeError("put() after finish() or close()")
        self._queue.put(item)

    def finish(self) -> None:
        """Wait until every queued item is sunk; raises the sink's error if it failed."""
        if self._thread.is_alive():
            try:
                self._queue.put(_End())
                self._thread.join()
            except BaseException:  # Ctrl-C while waiting: the sink must not run on after it
                self.close()
                raise
        if self._error is not None:
            raise self._error

    def close(self) -> None:
        """Stop the thread, dropping what is queued, and wait for it. Idempotent."""
        self._stop.set()
        if self._thread.is_alive():
            _drain(self._queue)
            self._queue.put(_End())  # the thread drops anything put since, then takes this
            self._thread.join()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        if exc_type is None:
            self.finish()
        else:
            self.close()


class Background(Generic[R]):
    """Runs `work(stop)` on a thread; `stop` is a `threading.Event` that `cancel()` sets and the
    work checks between its steps (it then raises or returns anything: the result is
    discarded). `result()` waits for the work and returns its value or raises its error; as a
    context manager, leaving the block cancels the work if `result()` was not reached."""

    def __init__(self, work: Callable[[threading.Event], R], name: str = "background") -> None:
        self._stop = threading.Event()
        self._value: R | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(work,), name=name, daemon=True)
        _LIVE.add(self)
        self._thread.start()

    def _run(self, work: Callable[[threading.Event], R]) -> None:
        try:
            self._value = work(self._stop)
        except BaseException as err:  # noqa: BLE001 - raised in the caller by result()
            self._error = err

    @property
    def done(self) -> bool:
        """The work has ended (`result()` will not wait)."""
        return not self._thread.is_alive()

    def result(self) -> R:
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._value  # type: ignore[return-value]

    def cancel(self) -> None:
        """Ask the work to stop and wait for it. Idempotent."""
        self._stop.set()
        self._thread.join()

    close = cancel  # as the other helpers (`stop_all`)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.cancel()


def pipelined(first: Callable[[T], R], second: Callable[[R], S], items: Iterable[T],
               depth: int = 2, name: str = "pipeline") -> Iterator[S]:
    """second(first(item)) for each item, in order: `first` runs on a thread (a `Prefetch`,
    at most `depth` items ahead), so item k + 1's first half overlaps item k's second half.
    The items are also iterated on that thread. Leaving the loop early stops the thread."""
    with Prefetch(map(first, items), depth, name) as halves:
        for half in halves:
            yield second(half)


__all__ = ["Background", "Drain", "Prefetch", "pipelined", "stop_all"]
