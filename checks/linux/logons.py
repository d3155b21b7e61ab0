"""Last logons: an account that can log in with a password but has not for too long is a leftover (issue 17)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from scanner.facts.linux import HostClock, LastLogons, Passwd, Shadow
from scanner.model import Finding, Location, error, failed, passed
from scanner.registry import check

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


@check(id="linux.accounts.stale", title="No account with a usable password is unused for too long",
       severity="medium", area="access_control",
       criterion="Every account with a usable (or empty) password that has not expired logged on within "
                 "stale_account_days by /var/log/lastlog; one with no recorded logon is stale once its password is "
                 "older than that. lastlog records terminal sessions (sshd with a terminal, login), not "
                 "command-only SSH sessions or sftp: an account used only so is listed too, for its owner to "
                 "confirm.",
       remediation="Lock the listed accounts (usermod -L, and usermod -e 1 to expire them for key logons too) or "
                   "remove them (userdel) after confirming with their owners; list accounts used only by "
                   "command-only sessions in the review record.")
def stale(passwd: Passwd, shadow: Shadow, last_logons: LastLogons, clock: HostClock,
          stale_account_days: int = 90) -> Finding:
    today = int(clock.now.timestamp() // 86400)
    limit = clock.now - timedelta(days=stale_account_days)
    names = {e.name for e in passwd.entries}
    usable = [s for s in shadow.entries if s.name in names and s.state in ("hash", "empty")
              and (s.expire is None or s.expire > today)]
    where = Location(last_logons.source)
    found: dict[str, str] = {}
    unread = []
    for s in usable:
        record = last_logons.of(s.name)
        if record is None:
            unread.append(s.name)
            continue
        changed = _EPOCH + timedelta(days=s.last_change) if s.last_change else None
        last = record.at or changed
        if last is None or last < limit:
            found[s.name] = (f"last logon {record.at:%Y-%m-%d}" if record.at else
                             "no logon recorded" + (f", password set {changed:%Y-%m-%d}" if changed else ""))
    obs: dict[str, Any] = {"stale": found, "max_idle_days": stale_account_days, "not_read": unread,
                           "checked": len(usable)}
    if found:
        listed = "; ".join(f"{n} ({why})" for n, why in sorted(found.items()))
        return failed("accounts", f"{len(found)} account(s) with a usable password not used for more than "
                      f"{stale_account_days} days: {listed}", location=where, **obs)
    if unread:
        return error("accounts", f"the last logon of {len(unread)} account(s) with a usable password was not read "
                     f"(beyond the first {last_logons.cap} accounts): {', '.join(unread[:20])}", location=where,
                     **obs)
    return passed("accounts", f"all {len(usable)} account(s) with a usable password were used within "
                  f"{stale_account_days} days", location=where, **obs)
