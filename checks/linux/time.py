"""Clock: audit timestamps are only evidence when the clock is synchronised."""
from __future__ import annotations

from typing import Any

from scanner.facts.linux import TimeSync
from scanner.model import Finding, failed, passed
from scanner.registry import check


@check(id="linux.time.synchronized", title="The clock is synchronised", severity="medium", area="time_sync",
       criterion="An NTP client reports the system clock as synchronised (timedatectl, chronyc or ntpq); with no "
                 "time synchronisation client installed the check fails.",
       remediation="Install and enable a time synchronisation client (chrony or systemd-timesyncd) pointed at the "
                   "site's NTP servers, and confirm with 'timedatectl' or 'chronyc tracking'.")
def synchronized(time_sync: TimeSync) -> Finding:
    observed: dict[str, Any] = {"source": time_sync.source, "service": time_sync.service, **time_sync.detail}
    if not time_sync.configured:
        return failed("clock", "no time synchronisation configured: no NTP client (chrony, ntpd, OpenNTPD, "
                               "systemd-timesyncd) is installed", **observed)
    if time_sync.synchronized:
        return passed("clock", f"clock synchronised ({time_sync.source})", **observed)
    return failed("clock", f"clock is not synchronised ({time_sync.source})", **observed)
