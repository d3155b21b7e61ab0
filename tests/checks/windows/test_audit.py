"""checks.windows.audit on small hand-built facts: every verdict with its exact words and observed values."""
from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from checks.windows import audit
from scanner.facts.windows import (
    LSA,
    AuditPolicy,
    AuditSetting,
    EventForwarding,
    SecurityLog,
    Service,
    Services,
    TimeStatus,
)
from tests.checks.windows.factories import registry, seen

G = "-69AE-11D9-BED3-505054503030"
CREDENTIAL_VALIDATION, LOGON, LOGOFF, LOCKOUT = (f"0CCE923F{G}", f"0CCE9215{G}", f"0CCE9216{G}", f"0CCE9217{G}")
REGISTRY_AUDIT = f"0CCE921E{G}"


def _policy(*changes: tuple[str, bool | None, bool | None]) -> AuditPolicy:
    """Every baseline subcategory audited for success and failure, except (guid, success, failure) changes;
    (guid, None, None) leaves the subcategory out, as a host that does not report it."""
    by_guid = {c[0]: c for c in changes}
    out = []
    for guid in audit.AUDIT_BASELINE:
        _, success, failure = by_guid.get(guid, (guid, True, True))
        if success is not None and failure is not None:
            out.append(AuditSetting(guid.lower() if guid == LOGOFF else guid, success, failure))
    return AuditPolicy(tuple(out))


def _forced(value: int | None = 1) -> Any:
    return registry({(LSA, "SCENoApplyLegacyAuditPolicy"): value})


ALL = "all 15 baseline subcategories audited"


@pytest.mark.parametrize(("policy", "force", "status", "message", "gaps"), [
    (_policy(), 1, "pass", ALL, 0),
    # what the baseline does not ask for may be off: Logoff failures, Account Lockout successes, Registry successes
    (_policy((LOGOFF, True, False), (LOCKOUT, False, True), (REGISTRY_AUDIT, False, True)), 1, "pass", ALL, 0),
    (_policy((LOGOFF, False, True), (LOCKOUT, True, False), (REGISTRY_AUDIT, True, False)), 1, "fail",
     "Logoff: no success auditing; Account Lockout: no failure auditing; Registry: no failure auditing", 3),
    (_policy((LOGON, False, False)), 1, "fail", "Logon: no success or failure auditing", 1),
    # a missing subcategory does not end the loop
    (_policy((CREDENTIAL_VALIDATION, None, None), (LOGON, True, False)), 1, "fail",
     f"Credential Validation {{{CREDENTIAL_VALIDATION}}}: not reported by the host; Logon: no failure auditing", 2),
    (_policy(), 0, "fail", "SCENoApplyLegacyAuditPolicy = 0 (legacy categories may override subcategories)", 1),
    (_policy(), 2, "fail", "SCENoApplyLegacyAuditPolicy = 2 (legacy categories may override subcategories)", 1),
    (_policy((LOGOFF, False, False)), None, "fail", "Logoff: no success auditing; SCENoApplyLegacyAuditPolicy = "
     "None (legacy categories may override subcategories)", 2),
])
def test_policy_judges_every_baseline_subcategory_and_the_legacy_override(policy: AuditPolicy, force: int | None,
                                                                          status: str, message: str,
                                                                          gaps: int) -> None:
    assert seen(audit.policy(policy, _forced(force))) == (status, "audit policy", message, {"gaps": gaps})


MB = 1024 * 1024


@pytest.mark.parametrize(("enabled", "size", "minimum", "status", "message", "mb"), [
    (True, 192 * MB, None, "pass", "maximum size 192 MB", 192.0),
    (True, 192 * MB - 1, None, "fail", "maximum size 192 MB < 192 MB", 192.0),
    (True, 20 * MB, None, "fail", "maximum size 20 MB < 192 MB", 20.0),
    (True, 1536 * MB // 10, 150, "pass", "maximum size 154 MB", 153.6),
    (True, 401 * MB // 4, 100, "pass", "maximum size 100 MB", 100.2),  # 100.25 MB, observed to one decimal
    (False, 4096 * MB, None, "fail", "the Security log is disabled", 4096.0),
    (False, 100 * MB, 150, "fail", "the Security log is disabled; maximum size 100 MB < 150 MB", 100.0),
])
def test_security_log_size_enabled_and_at_least_the_minimum(enabled: bool, size: int, minimum: int | None,
                                                            status: str, message: str, mb: float) -> None:
    log = SecurityLog(enabled, size, "Circular", 10, None)
    got = audit.security_log_size(log) if minimum is None else audit.security_log_size(log,
                                                                                         security_log_min_mb=minimum)
    assert seen(got) == (status, "Security log", message, {"max_size_mb": mb, "enabled": enabled})


def _log(mode: str, oldest_days: float | None, records: int = 5000) -> SecurityLog:
    oldest = None if oldest_days is None else datetime.now(timezone.utc) - timedelta(days=oldest_days)
    return SecurityLog(True, 192 * MB, mode, records, oldest)


@pytest.mark.parametrize(("mode", "oldest_days", "retention", "status", "message"), [
    ("AutoBackup", 1, None, "pass", "events are not overwritten (mode AutoBackup)"),
    ("Retain", None, None, "pass", "events are not overwritten (mode Retain)"),
    ("autobackup", 400, None, "error", "unknown log mode 'autobackup'"),
    ("", 400, None, "error", "unknown log mode ''"),
    ("Circular", None, None, "fail", "the log overwrites when full and holds no events"),
    ("Circular", 90.5, None, "pass", "the log overwrites when full but holds 90 days"),
    ("Circular", 89.5, None, "fail", "the log overwrites when full and holds only 89 days (< 90)"),
    ("Circular", 30.5, 30, "pass", "the log overwrites when full but holds 30 days"),
    ("Circular", 29.5, 30, "fail", "the log overwrites when full and holds only 29 days (< 30)"),
    ("Circular", 0.5, 0, "pass", "the log overwrites when full but holds 0 days"),
    ("Circular", -0.5, 0, "fail", "the log overwrites when full and holds only -1 days (< 0)"),  # clock skew
])
def test_log_retention_by_mode_and_the_age_of_the_oldest_event(mode: str, oldest_days: float | None,
                                                               retention: int | None, status: str,
                                                               message: str) -> None:
    log = _log(mode, oldest_days)
    got = audit.log_retention(log) if retention is None else audit.log_retention(log,
                                                                                  audit_log_retention_days=retention)
    assert seen(got) == (status, "Security log", message, {
        "log_mode": mode, "records": 5000, "oldest_event": log.oldest_event.isoformat() if log.oldest_event else None})


@pytest.mark.parametrize("days_ahead", [1.5, 30])
def test_log_retention_errors_on_an_oldest_event_over_a_day_ahead(days_ahead: float) -> None:
    log = _log("Circular", -days_ahead)
    assert log.oldest_event is not None
    assert seen(audit.log_retention(log)) == (
        "error", "Security log", f"the oldest event lies in the future ({log.oldest_event:%Y-%m-%d})",
        {"log_mode": "Circular", "records": 5000, "oldest_event": log.oldest_event.isoformat()})


SERVICES = Services((Service("SplunkForwarder", "Auto", "Stopped"), Service("winlogbeat", "Auto", "Running"),
                     Service("OwnShipper", "Auto", "Running"), Service("nxlog", "Auto", "Running")))


@pytest.mark.parametrize(("managers", "agents", "status", "message", "seen_agents"), [
    ((), None, "pass", "events leave the host through nxlog, winlogbeat", ["nxlog", "winlogbeat"]),
    (("Server=https://wec.ex.test:5986/wsman/SubscriptionManager/WEC",), ("SplunkForwarder", "Absent"), "pass",
     "events leave the host through WEF Server=https://wec.ex.test:5986/wsman/SubscriptionManager/WEC", []),
    (("A", "B"), ("OwnShipper",), "pass", "events leave the host through WEF A, WEF B, OwnShipper", ["OwnShipper"]),
    ((), ("OWNSHIPPER",), "pass", "events leave the host through OWNSHIPPER", ["OWNSHIPPER"]),
    ((), ("SplunkForwarder", "Absent"), "fail", "no Event Forwarding subscription manager and no log agent running",
     []),
])
def test_forwarding_by_a_subscription_manager_or_a_running_agent(managers: tuple[str, ...],
                                                                 agents: tuple[str, ...] | None, status: str,
                                                                 message: str, seen_agents: list[str]) -> None:
    wef = EventForwarding(managers)
    got = audit.forwarding(wef, SERVICES) if agents is None else \
        audit.forwarding(wef, SERVICES, log_forwarding_agents=agents)
    assert seen(got) == (status, "event forwarding", message, {"subscription_managers": list(managers),
                                                               "agents": seen_agents})


def test_forwarding_agents_default_to_the_known_log_shippers() -> None:
    for name in audit.LOG_AGENTS:
        got = audit.forwarding(EventForwarding(()), Services((Service(name, "Auto", "Running"),)))
        assert seen(got) == ("pass", "event forwarding", f"events leave the host through {name}",
                             {"subscription_managers": [], "agents": [name]})


SYNCED = TimeStatus(service_running=True, sync_type="NT5DS", ntp_server="", leap_indicator=0, stratum=3,
                    source="dc1.ex.test", phase_offset_seconds=0.25, last_sync_error=0, since_last_sync_seconds=600.0)


@pytest.mark.parametrize(("changes", "policy", "status", "message"), [
    ({}, {}, "pass", "synchronised from dc1.ex.test"),
    ({"phase_offset_seconds": -1.0, "since_last_sync_seconds": 86400.0, "stratum": 1, "leap_indicator": 1}, {},
     "pass", "synchronised from dc1.ex.test"),
    ({"phase_offset_seconds": 1.001}, {}, "fail", "offset +1.001 s > 1.0 s"),
    ({"phase_offset_seconds": -1.5}, {}, "fail", "offset -1.500 s > 1.0 s"),
    ({"phase_offset_seconds": 1.5}, {"time_max_offset_seconds": 2.0}, "pass", "synchronised from dc1.ex.test"),
    ({"phase_offset_seconds": 0.5}, {"time_max_offset_seconds": 0.1}, "fail", "offset +0.500 s > 0.1 s"),
    ({"since_last_sync_seconds": 86401.0}, {}, "fail", "last good synchronisation 24.0 h ago"),
    ({"since_last_sync_seconds": 3600000.0}, {}, "fail", "last good synchronisation 1000.0 h ago"),
    ({"since_last_sync_seconds": 9000.0}, {"time_max_sync_age_hours": 2}, "fail",
     "last good synchronisation 2.5 h ago"),
    ({"since_last_sync_seconds": 90000.0}, {"time_max_sync_age_hours": 25}, "pass", "synchronised from dc1.ex.test"),
    ({"sync_type": "NoSync"}, {}, "fail", "no synchronisation source (Type = NoSync)"),
    ({"sync_type": "NOSYNC"}, {}, "fail", "no synchronisation source (Type = NoSync)"),
    ({"leap_indicator": 3}, {}, "fail", "not synchronised (leap indicator 3 or stratum 0)"),
    ({"stratum": 0}, {}, "fail", "not synchronised (leap indicator 3 or stratum 0)"),
    ({"last_sync_error": 1}, {}, "fail", "the last synchronisation failed (error 1)"),
    ({"last_sync_error": -2147023816}, {}, "fail", "the last synchronisation failed (error -2147023816)"),
    ({"sync_type": "NoSync", "leap_indicator": 3, "last_sync_error": 2, "since_last_sync_seconds": 180000.0,
      "phase_offset_seconds": 30.0}, {}, "fail", "no synchronisation source (Type = NoSync); not synchronised (leap "
     "indicator 3 or stratum 0); the last synchronisation failed (error 2); last good synchronisation 50.0 h ago; "
     "offset +30.000 s > 1.0 s"),
    ({"service_running": False}, {}, "fail", "the Windows Time service is not running"),
])
def test_synchronized_source_state_error_age_and_offset(changes: dict[str, Any], policy: dict[str, Any],
                                                        status: str, message: str) -> None:
    t = dataclasses.replace(SYNCED, **changes)
    assert seen(audit.synchronized(t, **policy)) == (status, "w32time", message, {
        "type": t.sync_type, "source": t.source, "offset_s": t.phase_offset_seconds, "stratum": t.stratum,
        "since_sync_s": t.since_last_sync_seconds})
