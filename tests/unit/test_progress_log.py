"""Runners log their progress at a bounded rate, and not at all while idle."""

import structlog
from structlog.testing import capture_logs

from projections.progress_log import ProgressLog


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_one_line_per_interval_with_everything_since_the_last() -> None:
    clock = Clock()
    progress = ProgressLog("relay_progress", structlog.get_logger("t"), every=10, clock=clock)
    with capture_logs() as logs:
        for _ in range(100):  # a busy second: 100 batches
            clock.now += 0.01
            progress.moved(500, position=1)
        clock.now = 10.0
        progress.moved(500, position=2)
        clock.now = 11.0
        progress.moved(500, position=3)
    (line,) = logs
    assert (line["event"], line["events"], line["position"]) == ("relay_progress", 50_500, 2)
    assert line["events_per_second"] == 5050.0


def test_an_idle_runner_logs_nothing() -> None:
    clock = Clock()
    progress = ProgressLog("projector_progress", structlog.get_logger("t"), every=10, clock=clock)
    with capture_logs() as logs:
        for second in range(1, 100):
            clock.now = float(second)
            progress.moved(0)
    assert logs == []
