"""linux.accounts.stale (checks/linux/logons.py) on small facts, asserting status, message and observed values:
the mutants of the check under mutmut (docs/mutation.md, issue 15 fifth session)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from checks.linux import logons
from scanner.facts.linux import HostClock, LastLogon, LastLogons, Passwd, PasswdEntry, Shadow, ShadowEntry
from scanner.model import Finding, Location, Status, thaw

DAY = 20000  # 2024-10-04
NOW = datetime(2024, 10, 4, 12, 0, tzinfo=timezone.utc)
LASTLOG = "/var/log/lastlog"


def account(name: str, state: str = "hash", last_change: int | None = None,
            expire: int | None = None) -> ShadowEntry:
    return ShadowEntry(name=name, state=state, scheme="yescrypt" if state == "hash" else None,
                       last_change=last_change, min_days=None, max_days=None, warn_days=None, inactive_days=None,
                       expire=expire)


def people(*names: str) -> Passwd:
    return Passwd(tuple(PasswdEntry(n, "x", 1000 + i, 100, f"/home/{n}", "/bin/bash") for i, n in enumerate(names)))


def logons_of(records: dict[str, datetime | None], cap: int = 500) -> LastLogons:
    return LastLogons(LASTLOG, tuple(LastLogon(n, 1000 + i, at) for i, (n, at) in enumerate(records.items())),
                      len(records), cap)


def seen(f: Finding) -> tuple[Status, str, dict[str, Any], Location | None]:
    return f.status, f.message, thaw(f.observed), f.location


def test_stale_names_each_account_unused_beyond_the_limit_and_skips_the_unusable() -> None:
    shadow = Shadow((
        account("alice"),  # logged on 10 days ago
        account("bob"),  # logged on 91 days ago: stale
        account("carol", "empty", last_change=DAY - 100),  # an empty password counts; set 100 days ago, never used
        account("dave", last_change=DAY - 10),  # never used, but the password is 10 days old
        account("erin", "locked"),  # locked: not judged
        account("frank", expire=DAY),  # expired today: not judged
        account("gina", expire=DAY + 1),  # expires tomorrow: judged (stale)
        account("hank"),  # not in /etc/passwd: not judged
        account("ian"),  # never used, no password date: stale
        account("jo", last_change=0),  # day 0 is no date (change at next logon)
        account("kim"),  # exactly 90 days ago: not beyond the limit
    ))
    records: dict[str, datetime | None] = {
        "alice": NOW - timedelta(days=10), "bob": NOW - timedelta(days=91), "carol": None, "dave": None,
        "erin": None, "frank": None, "gina": NOW - timedelta(days=200), "ian": None, "jo": None,
        "kim": NOW - timedelta(days=90)}
    got = logons.stale(people(*records), shadow, logons_of(records), HostClock(NOW))
    stale = {"bob": "last logon 2024-07-05", "carol": "no logon recorded, password set 2024-06-26",
             "gina": "last logon 2024-03-18", "ian": "no logon recorded", "jo": "no logon recorded"}
    assert seen(got) == (
        Status.FAIL, "5 account(s) with a usable password not used for more than 90 days: "
                     + "; ".join(f"{n} ({why})" for n, why in stale.items()),
        {"stale": stale, "max_idle_days": 90, "not_read": [], "checked": 8}, Location(LASTLOG))


def test_stale_passes_when_every_account_was_used_within_the_limit() -> None:
    records: dict[str, datetime | None] = {"alice": NOW - timedelta(days=29), "dave": None}
    shadow = Shadow((account("alice"), account("dave", last_change=DAY - 29)))
    got = logons.stale(people(*records), shadow, logons_of(records), HostClock(NOW), stale_account_days=30)
    assert seen(got) == (Status.PASS, "all 2 account(s) with a usable password were used within 30 days",
                         {"stale": {}, "max_idle_days": 30, "not_read": [], "checked": 2}, Location(LASTLOG))


@pytest.mark.parametrize("unread", [1, 21])
def test_an_account_whose_record_was_not_read_is_an_error_listing_twenty(unread: int) -> None:
    names = [f"u{n:02d}" for n in range(unread)]
    shadow = Shadow((account("alice"), *(account(n) for n in names)))
    got = logons.stale(people("alice", *names), shadow, logons_of({"alice": NOW}, cap=1), HostClock(NOW))
    assert seen(got) == (
        Status.ERROR, f"the last logon of {unread} account(s) with a usable password was not read (beyond the "
                      f"first 1 accounts): {', '.join(names[:20])}",
        {"stale": {}, "max_idle_days": 90, "not_read": names, "checked": unread + 1}, Location(LASTLOG))


def test_a_stale_account_fails_even_when_others_were_not_read() -> None:
    shadow = Shadow((account("alice"), account("bob")))
    got = logons.stale(people("alice", "bob"), shadow, logons_of({"alice": NOW - timedelta(days=100)}, cap=1),
                       HostClock(NOW))
    assert seen(got)[0::2] == (Status.FAIL, {"stale": {"alice": "last logon 2024-06-26"}, "max_idle_days": 90,
                                             "not_read": ["bob"], "checked": 2})


def test_a_clock_before_1970_still_judges_an_account_expiring_on_day_0() -> None:
    # today is day -1 (1969-12-31): an account expiring on day 0 has not expired yet and is judged
    now = datetime(1969, 12, 31, 12, 0, tzinfo=timezone.utc)
    got = logons.stale(people("old"), Shadow((account("old", expire=0),)), logons_of({"old": None}), HostClock(now))
    assert seen(got)[0::2] == (Status.FAIL, {"stale": {"old": "no logon recorded"}, "max_idle_days": 90,
                                             "not_read": [], "checked": 1})


def test_an_account_expiring_today_is_not_judged_from_the_first_minutes_of_the_day() -> None:
    midnight = datetime(2024, 10, 4, 0, 10, tzinfo=timezone.utc)  # day 20000 (DAY) has just begun
    shadow = Shadow((account("frank", expire=DAY), account("gina", expire=DAY + 1)))
    got = logons.stale(people("frank", "gina"), shadow, logons_of({"frank": None, "gina": midnight}),
                       HostClock(midnight))
    assert seen(got)[0::2] == (Status.PASS, {"stale": {}, "max_idle_days": 90, "not_read": [], "checked": 1})
