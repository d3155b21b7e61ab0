"""checks.windows.backup on small hand-built facts: every verdict with its exact words and observed values."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from checks.windows import backup
from scanner.facts.linux import BackupStatus, BackupStatusFormat
from scanner.facts.windows import BackupState, Service, Services
from tests.checks.windows.factories import seen

NONE = BackupState(True, (), None, None, ())
SERVICES = Services((Service("VeeamAgent", "Auto", "Running"), Service("CommVault", "Auto", "Stopped"),
                     Service("ArcServe", "Manual", "Running")))


@pytest.mark.parametrize(("state", "agents", "status", "message", "observed"), [
    (NONE, (), "fail", "no Windows Server Backup schedule, VSS snapshot task or running backup agent", {}),
    (NONE, ("CommVault", "Missing"), "fail", "no Windows Server Backup schedule, VSS snapshot task or running backup "
     "agent", {}),
    (BackupState(True, ("21:00", "03:00"), None, None, ()), (), "pass",
     "scheduled: Windows Server Backup at 21:00, 03:00", {"wsb_schedule": ["21:00", "03:00"]}),
    (BackupState(False, (), None, None, ("ShadowCopyVolume{C}", "ShadowCopyVolume{D}")), (), "pass",
     "scheduled: VSS snapshot task(s) ShadowCopyVolume{C}, ShadowCopyVolume{D}",
     {"vss_tasks": ["ShadowCopyVolume{C}", "ShadowCopyVolume{D}"]}),
    (NONE, ("veeamagent", "CommVault", "ArcServe"), "pass", "scheduled: agent veeamagent; agent ArcServe",
     {"agents": ["veeamagent", "ArcServe"]}),
    (BackupState(True, ("21:00",), None, None, ("ShadowCopyVolume{C}",)), ("ArcServe",), "pass",
     "scheduled: Windows Server Backup at 21:00; VSS snapshot task(s) ShadowCopyVolume{C}; agent ArcServe",
     {"wsb_schedule": ["21:00"], "vss_tasks": ["ShadowCopyVolume{C}"], "agents": ["ArcServe"]}),
])
def test_scheduled_by_windows_server_backup_vss_or_a_running_agent(state: BackupState, agents: tuple[str, ...],
                                                                   status: str, message: str,
                                                                   observed: dict[str, Any]) -> None:
    got = backup.scheduled(state, SERVICES, backup_agent_services=agents) if agents else \
        backup.scheduled(state, SERVICES)
    want = {"wsb_schedule": [], "vss_tasks": [], "agents": [], **observed}
    assert seen(got) == (status, "backup schedule", message, want)


def _last(hours_ago: float | None, *, installed: bool = True, hr: int | None = 0) -> BackupState:
    """A Windows Server Backup history whose last success is ``hours_ago`` before now (None: none)."""
    last = None if hours_ago is None else datetime.now(timezone.utc) - timedelta(hours=hours_ago)
    return BackupState(installed, ("21:00",), last, hr, ())


def _observed(state: BackupState, rpo: float = 24) -> dict[str, Any]:
    return {"last_success": state.last_success.isoformat() if state.last_success else None,
            "last_result_hr": state.last_result_hr, "rpo_hours": rpo}


@pytest.mark.parametrize(("hours_ago", "rpo", "status", "message"), [
    (10.017, None, "pass", "last successful backup 10.0 h ago"),
    (0.5, None, "pass", "last successful backup 0.5 h ago"),
    (23.9, None, "pass", "last successful backup 23.9 h ago"),  # within the default RPO of 24 h
    (24.6, None, "fail", "last successful backup 24.6 h ago (> 24 h)"),
    (47.0, 48, "pass", "last successful backup 47.0 h ago"),
    (48.3, 48, "fail", "last successful backup 48.3 h ago (> 48 h)"),
    # hours, not hours and a bit: 1000 h and 500 s ago is over an RPO of 1000 h
    (1000 + 500 / 3600, 1000, "fail", "last successful backup 1000.1 h ago (> 1000 h)"),
    (-0.5, None, "pass", "last successful backup -0.5 h ago"),  # the host's clock a little behind the backup's
])
def test_recent_counts_hours_since_the_last_success(hours_ago: float, rpo: float | None, status: str,
                                                    message: str) -> None:
    state = _last(hours_ago)
    got = backup.recent(state) if rpo is None else backup.recent(state, backup_rpo_hours=rpo)
    assert seen(got) == (status, "last backup", message, _observed(state, rpo or 24))


def test_recent_errors_on_a_last_backup_over_an_hour_in_the_future() -> None:
    state = _last(-1.5)
    assert state.last_success is not None
    assert seen(backup.recent(state)) == (
        "error", "last backup", f"the last backup time {state.last_success:%Y-%m-%d %H:%M} lies in the future",
        _observed(state))


@pytest.mark.parametrize(("state", "status", "message"), [
    (_last(None, hr=-2147024809), "fail", "Windows Server Backup has no successful backup"),
    (_last(None, installed=False, hr=None), "error", "Windows Server Backup is not installed and no "
     "backup_status_file is declared: no backup history to read"),
    (_last(2, installed=False, hr=None), "error", "Windows Server Backup is not installed and no backup_status_file "
     "is declared: no backup history to read"),
])
def test_recent_without_a_success_or_without_windows_server_backup(state: BackupState, status: str,
                                                                   message: str) -> None:
    assert seen(backup.recent(state)) == (status, "last backup", message, _observed(state))


CLOCK = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize(("rpo", "status", "message"), [
    (None, "fail", "last successful backup 30.0 h ago exceeds the RPO of 24 h"),
    (48, "pass", "last successful backup 30.0 h ago"),
])
def test_a_declared_status_file_is_read_as_on_linux_with_the_windows_rpo(rpo: float | None, status: str,
                                                                         message: str) -> None:
    declared = BackupStatus("file", "C:\\backup\\last-ok.txt", CLOCK - timedelta(hours=30), CLOCK,
                            format=BackupStatusFormat.ISO8601, matched="2026-02-28T06:00:00Z")
    state = BackupState(False, (), None, None, (), declared)  # no Windows Server Backup: the file decides
    got = backup.recent(state) if rpo is None else backup.recent(state, backup_rpo_hours=rpo)
    assert seen(got) == (status, "backup status", message, {
        "declared": "file", "source": "C:\\backup\\last-ok.txt", "format": "iso8601",
        "matched": "2026-02-28T06:00:00Z", "last_success": "2026-02-28T06:00:00+00:00", "age_hours": 30.0,
        "rpo_hours": rpo or 24})
