"""Windows audit logging: the advanced audit policy by subcategory GUID, the Security log, forwarding, time.

The audit baseline (AUDIT_BASELINE) is this pack's documented minimum, keyed by subcategory GUID (the GUIDs of
ntsecapi.h / ``auditpol /list /subcategory:* /v``), because subcategory names are localised:

=====================================  ====================================  =================
GUID                                   subcategory                           required
=====================================  ====================================  =================
0CCE923F-69AE-11D9-BED3-505054503030   Account Logon: Credential Validation  success, failure
0CCE9215-69AE-11D9-BED3-505054503030   Logon/Logoff: Logon                   success, failure
0CCE9216-69AE-11D9-BED3-505054503030   Logon/Logoff: Logoff                  success
0CCE9217-69AE-11D9-BED3-505054503030   Logon/Logoff: Account Lockout         failure
0CCE921B-69AE-11D9-BED3-505054503030   Logon/Logoff: Special Logon           success
0CCE9235-69AE-11D9-BED3-505054503030   Account Management: User Account      success, failure
0CCE9237-69AE-11D9-BED3-505054503030   Account Management: Security Group    success
0CCE922F-69AE-11D9-BED3-505054503030   Policy Change: Audit Policy Change    success
0CCE9230-69AE-11D9-BED3-505054503030   Policy Change: Authentication Policy  success
0CCE9228-69AE-11D9-BED3-505054503030   Privilege Use: Sensitive Privilege    success, failure
0CCE9210-69AE-11D9-BED3-505054503030   System: Security State Change         success
0CCE9211-69AE-11D9-BED3-505054503030   System: Security System Extension     success
0CCE9212-69AE-11D9-BED3-505054503030   System: System Integrity              success, failure
0CCE921D-69AE-11D9-BED3-505054503030   Object Access: File System            failure
0CCE921E-69AE-11D9-BED3-505054503030   Object Access: Registry               failure
=====================================  ====================================  =================

and SCENoApplyLegacyAuditPolicy = 1, so the legacy category policy cannot override the subcategories.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from checks.windows._common import settings_finding
from scanner.facts.windows import LSA, AuditPolicy, EventForwarding, Registry, SecurityLog, Services, TimeStatus
from scanner.model import Area, Finding, Severity, error, failed, passed
from scanner.registry import check

_G = "-69AE-11D9-BED3-505054503030"
#: subcategory GUID -> (name, success required, failure required)
AUDIT_BASELINE: dict[str, tuple[str, bool, bool]] = {
    "0CCE923F" + _G: ("Credential Validation", True, True),
    "0CCE9215" + _G: ("Logon", True, True),
    "0CCE9216" + _G: ("Logoff", True, False),
    "0CCE9217" + _G: ("Account Lockout", False, True),
    "0CCE921B" + _G: ("Special Logon", True, False),
    "0CCE9235" + _G: ("User Account Management", True, True),
    "0CCE9237" + _G: ("Security Group Management", True, False),
    "0CCE922F" + _G: ("Audit Policy Change", True, False),
    "0CCE9230" + _G: ("Authentication Policy Change", True, False),
    "0CCE9228" + _G: ("Sensitive Privilege Use", True, True),
    "0CCE9210" + _G: ("Security State Change", True, False),
    "0CCE9211" + _G: ("Security System Extension", True, False),
    "0CCE9212" + _G: ("System Integrity", True, True),
    "0CCE921D" + _G: ("File System", False, True),
    "0CCE921E" + _G: ("Registry", False, True),
}
#: Service (key) names of log shipping agents accepted as forwarding, unless the policy names its own.
LOG_AGENTS = ("SplunkForwarder", "nxlog", "winlogbeat", "elastic-agent", "AzureMonitorAgent", "HealthService",
              "WazuhSvc", "fluent-bit", "OpenTelemetry Collector")


@check(id="windows.audit.policy", title="The advanced audit policy meets the baseline", severity=Severity.HIGH,
       area=Area.AUDIT_LOGGING,
       criterion="Every subcategory of the documented baseline (by GUID: logon/logoff, account logon, account "
                 "management, policy change, privilege use, system, object access failures) audits what the "
                 "baseline requires, and SCENoApplyLegacyAuditPolicy = 1.",
       remediation="Set the Advanced Audit Policy Configuration in Group Policy (or auditpol /set /subcategory:{GUID} "
                   "/success:enable /failure:enable) per the baseline in checks/windows/audit.py, and 'Audit: Force "
                   "audit policy subcategory settings' = Enabled.")
def policy(audit_policy: AuditPolicy, registry: Registry) -> Finding:
    problems = []
    for guid, (name, success, failure) in AUDIT_BASELINE.items():
        got = audit_policy.get(guid)
        if got is None:
            problems.append(f"{name} {{{guid}}}: not reported by the host")
            continue
        missing = [w for w, need, have in (("success", success, got.success), ("failure", failure, got.failure))
                   if need and not have]
        if missing:
            problems.append(f"{name}: no {' or '.join(missing)} auditing")
    force = registry.dword(LSA, "SCENoApplyLegacyAuditPolicy")
    if force != 1:
        problems.append(f"SCENoApplyLegacyAuditPolicy = {force} (legacy categories may override subcategories)")
    return settings_finding("audit policy", problems, f"all {len(AUDIT_BASELINE)} baseline subcategories audited",
                            gaps=len(problems))


@check(id="windows.audit.security_log_size", title="The Security log is large enough", severity=Severity.MEDIUM,
       area=Area.AUDIT_LOGGING,
       criterion="The Security log is enabled and its maximum size is at least security_log_min_mb.",
       remediation="wevtutil sl Security /ms:<bytes>, or Event Log policy 'Security: Specify the maximum log file "
                   "size (KB)'.")
def security_log_size(security_log: SecurityLog, security_log_min_mb: int = 192) -> Finding:
    mb = security_log.max_size_bytes / (1024 * 1024)
    problems = [] if security_log.enabled else ["the Security log is disabled"]
    if mb < security_log_min_mb:
        problems.append(f"maximum size {mb:.0f} MB < {security_log_min_mb} MB")
    return settings_finding("Security log", problems, f"maximum size {mb:.0f} MB", max_size_mb=round(mb, 1),
                            enabled=security_log.enabled)


@check(id="windows.audit.log_retention", title="Security events are not overwritten too early",
       severity=Severity.HIGH, area=Area.AUDIT_LOGGING,
       criterion="The Security log archives or keeps events when full (AutoBackup or Retain), or, when it overwrites "
                 "(Circular), its oldest event is older than audit_log_retention_days: nothing younger is lost.",
       remediation="Set the Security log to archive when full (wevtutil sl Security /ab:true /rt:true) and collect "
                   "the archives, or make it large enough to hold the retention period, or forward events.")
def log_retention(security_log: SecurityLog, audit_log_retention_days: int = 90) -> Finding:
    obs: dict[str, Any] = {"log_mode": security_log.log_mode, "records": security_log.record_count,
                           "oldest_event": security_log.oldest_event.isoformat() if security_log.oldest_event
                           else None}
    if security_log.log_mode in ("AutoBackup", "Retain"):
        return passed("Security log", f"events are not overwritten (mode {security_log.log_mode})", **obs)
    if security_log.log_mode != "Circular":
        return error("Security log", f"unknown log mode {security_log.log_mode!r}", **obs)
    oldest = security_log.oldest_event
    if oldest is None:
        return failed("Security log", "the log overwrites when full and holds no events", **obs)
    if oldest > datetime.now(timezone.utc) + timedelta(days=1):
        return error("Security log", f"the oldest event lies in the future ({oldest:%Y-%m-%d})", **obs)
    days = (datetime.now(timezone.utc) - oldest).days
    if days < audit_log_retention_days:
        return failed("Security log", f"the log overwrites when full and holds only {days} days "
                      f"(< {audit_log_retention_days})", **obs)
    return passed("Security log", f"the log overwrites when full but holds {days} days", **obs)


@check(id="windows.audit.forwarding", title="Security events are forwarded off the host", severity=Severity.MEDIUM,
       area=Area.AUDIT_LOGGING,
       criterion="A Windows Event Forwarding subscription manager is configured, or a log agent service named in "
                 "log_forwarding_agents is running.",
       remediation="Configure 'Configure target Subscription Manager' (Event Forwarding policy) to your collector "
                   "over HTTPS, or install and start a log shipping agent.")
def forwarding(event_forwarding: EventForwarding, services: Services,
               log_forwarding_agents: tuple[str, ...] = LOG_AGENTS) -> Finding:
    managers = list(event_forwarding.subscription_managers)
    agents = [n for n in log_forwarding_agents if (s := services.get(n)) is not None and s.running]
    obs: dict[str, Any] = {"subscription_managers": managers, "agents": agents}
    if managers or agents:
        return passed("event forwarding", "events leave the host through "
                      + ", ".join([*(f"WEF {m}" for m in managers), *agents]), **obs)
    return failed("event forwarding", "no Event Forwarding subscription manager and no log agent running", **obs)


@check(id="windows.time.synchronized", title="The clock is synchronised", severity=Severity.MEDIUM,
       area=Area.TIME_SYNC,
       criterion="w32time runs with a synchronisation source (not NoSync), the last synchronisation succeeded "
                 "within time_max_sync_age_hours and the offset is at most time_max_offset_seconds.",
       remediation="Configure w32time (w32tm /config /syncfromflags:domhier or /manualpeerlist:<servers>), start "
                   "the service, and check w32tm /resync.")
def synchronized(time: TimeStatus, time_max_offset_seconds: float = 1.0,
                 time_max_sync_age_hours: float = 24) -> Finding:
    obs: dict[str, Any] = {"type": time.sync_type, "source": time.source, "offset_s": time.phase_offset_seconds,
                           "stratum": time.stratum, "since_sync_s": time.since_last_sync_seconds}
    problems = []
    if not time.service_running:
        return failed("w32time", "the Windows Time service is not running", **obs)
    if time.sync_type.casefold() == "nosync":
        problems.append("no synchronisation source (Type = NoSync)")
    if time.leap_indicator == 3 or time.stratum == 0:
        problems.append("not synchronised (leap indicator 3 or stratum 0)")
    if time.last_sync_error != 0:
        problems.append(f"the last synchronisation failed (error {time.last_sync_error})")
    if time.since_last_sync_seconds > time_max_sync_age_hours * 3600:
        problems.append(f"last good synchronisation {time.since_last_sync_seconds / 3600:.1f} h ago")
    if abs(time.phase_offset_seconds) > time_max_offset_seconds:
        problems.append(f"offset {time.phase_offset_seconds:+.3f} s > {time_max_offset_seconds} s")
    return settings_finding("w32time", problems, f"synchronised from {time.source}", **obs)
