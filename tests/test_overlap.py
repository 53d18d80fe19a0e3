"""`vasa.overlap`: stages on threads keep order, raise their errors in the caller, stop when the
caller stops, and hold a bounded number of items."""

from __future__ import annotations

import threading
import time

import pytest

from vasa.overlap import Background, Drain, Prefetch


def _failing(n: int):
    yield from range(n)
    raise ValueError("bad frame")


def test_prefetch_keeps_order_and_raises_after_the_items_before_the_error():
    with Prefetch(range(100), depth=3) as items:
        assert list(items) == list(range(100))
    got = []
    with pytest.raises(ValueError, match="bad frame"), Prefetch(_failing(5), depth=2) as items:
        got.extend(items)
    assert got == [0, 1, 2, 3, 4]


def test_prefetch_stays_bounded_and_close_stops_an_endless_source():
    produced, closed = [], threading.Event()

    def endless():
        try:
            i = 0
            while True:
                produced.append(i)
                yield i
                i += 1
        finally:
            closed.set()  # the generator is closed on the thread that ran it

    items = Prefetch(endless(), depth=4)
    assert next(items) == 0
    time.sleep(0.3)
    assert len(produced) <= 1 + 4 + 1  # taken, queued, one waiting to be queued
    items.close()
    assert closed.is_set() and not items._thread.is_alive()
    with pytest.raises(StopIteration):
        next(items)


def test_drain_sinks_in_order_and_raises_the_sink_error_in_the_caller():
    seen = []
    with Drain(seen.append, depth=2) as sink:
        for i in range(50):
            sink.put(i)
    assert seen == list(range(50))

    def sink_fails(x):
        if x == 3:
            raise OSError("disk full")
        seen.append(x)

    seen.clear()
    with pytest.raises(OSError, match="disk full"), Drain(sink_fails, depth=2) as sink:
        for i in range(1000):
            sink.put(i)  # raises once the sink has failed; never blocks for ever
            time.sleep(0.001)
    assert seen == [0, 1, 2]


def test_drain_close_drops_what_is_queued():
    release, seen = threading.Event(), []

    def slow(x):
        release.wait()
        seen.append(x)

    sink = Drain(slow, depth=8)
    for i in range(8):
        sink.put(i)
    release.set()
    sink.close()
    assert len(seen) < 8 and not sink._thread.is_alive()


def test_background_returns_raises_and_cancels():
    with Background(lambda stop: 42) as job:
        assert job.result() == 42
    with Background(lambda stop: 1 / 0) as job, pytest.raises(ZeroDivisionError):
        job.result()
    steps = []

    def work(stop):
        while not stop.is_set():
            steps.append(1)
            time.sleep(0.01)

    with Background(work) as job:
        time.sleep(0.05)
    assert not job._thread.is_alive() and steps


def test_pipelined_keeps_order_overlaps_raises_and_stops():
    from vasa.overlap import pipelined

    threads = set()

    def first(x):
        threads.add(threading.current_thread().name)
        return x * 10

    assert list(pipelined(first, lambda y: y + 1, range(50), name="half")) == [
        10 * i + 1 for i in range(50)]
    assert threads == {"half"}  # the first half ran on its thread, never in the caller

    # Item 1's first half runs while item 0's second half waits for it: they overlap.
    started = {i: threading.Event() for i in range(3)}

    def mark(x):
        started[x].set()
        return x

    def second(y):
        if y + 1 in started:
            assert started[y + 1].wait(5), "the next first half did not run meanwhile"
        return y

    assert list(pipelined(mark, second, range(3))) == [0, 1, 2]

    got = []
    with pytest.raises(ValueError, match="bad frame"):
        got.extend(pipelined(lambda x: x, lambda y: y, _failing(4)))
    assert got == [0, 1, 2, 3]

    seen = []
    gen = pipelined(lambda x: seen.append(x) or x, lambda y: y, iter(range(10**6)), depth=2)
    assert next(gen) == 0
    gen.close()  # leaving early stops the thread: the source is not run on
    time.sleep(0.1)
    assert len(seen) <= 5


def test_stop_all_stops_helpers_no_block_owns():
    """Ctrl-C can land between a helper's thread starting and the `with` that would close it:
    `stop_all` (the CLI's interrupt path) stops such orphans, each kind, before shutdown."""
    from itertools import count

    from vasa.overlap import stop_all

    waiting = Prefetch(count(), depth=2)  # blocked putting into its full queue
    sink = Drain(lambda item: None, depth=2)  # blocked taking from its empty queue
    work = Background(lambda stop: stop.wait(30))
    time.sleep(0.1)
    threads = [waiting._thread, sink._thread, work._thread]
    assert all(t.is_alive() for t in threads)
    t0 = time.monotonic()
    stop_all()
    assert not any(t.is_alive() for t in threads) and time.monotonic() - t0 < 5
    stop_all()  # idempotent: nothing left to stop
