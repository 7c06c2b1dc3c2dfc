"""What every long-running process does once it has started (the API, the relay, the Kafka
projector)."""

from __future__ import annotations

import gc


def freeze_start_up() -> None:
    """What start-up made lives as long as the process: out of the collector's way, so that
    its full collections, which pause the event loop (100-160 ms seen in the API and the lag
    bench), walk only what the work makes. Collected first: garbage frozen is never freed."""
    gc.collect()
    gc.freeze()
