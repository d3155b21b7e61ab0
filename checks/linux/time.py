"""Clock: audit timestamps are only evidence when the clock is synchronised."""
from __future__ import annotations

from typing import Any

from scanner.facts.linux import TimeSync
from scanner.model import Finding, failed, passed
from scanner.registry import check


@check(id="linux.time.synchronized", title="The clock is synchronised", severity="medium", area="time_sync",
       criterion="An NTP client reports the system clock as synchronised (timedatectl, chronyc or ntpq).")
def synchronized(time_sync: TimeSync) -> Finding:
    observed: dict[str, Any] = {"source": time_sync.source, "service": time_sync.service, **time_sync.detail}
    if time_sync.synchronized:
        return passed("clock", f"clock synchronised ({time_sync.source})", **observed)
    return failed("clock", f"clock is not synchronised ({time_sync.source})", **observed)
