"""Windows checks on one changed value of a hand-written host profile: the edges of each rule."""
from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from checks.windows import accounts, audit, backup, crypto, password
from scanner.facts import windows as wf
from scanner.model import Status
from tests.checks.windows.factories import value

NOW = datetime.now(timezone.utc)


def registry(**changes: int | str | None) -> wf.Registry:
    """The hardened host's registry with the named values (under every key that has them) changed."""
    reg: wf.Registry = value("hardened-2022", "windows.registry")
    return wf.Registry(tuple(dataclasses.replace(v, data=changes[v.name]) if v.name in changes and
                             not v.key.startswith(wf.SCHANNEL) else v for v in reg.values))


def with_account(profile: str, rid: int, **changes: Any) -> wf.LocalAccounts:
    accts: wf.LocalAccounts = value(profile, "windows.local_accounts")
    return wf.LocalAccounts(tuple(dataclasses.replace(a, **changes) if a.rid == rid else a for a in accts.accounts))


def test_a_renamed_enabled_builtin_admin_passes_and_its_default_name_fails() -> None:
    renamed = accounts.builtin_admin(with_account("hardened-2022", 500, enabled=True, name="lims-root"))
    default = accounts.builtin_admin(with_account("hardened-2022", 500, enabled=True, name="administrator"))
    assert (renamed.status, default.status) == (Status.PASS, Status.FAIL)
    assert "default name administrator" in default.message


def test_a_missing_guest_account_is_an_error_not_a_pass() -> None:
    accts: wf.LocalAccounts = value("hardened-2022", "windows.local_accounts")
    got = accounts.guest_disabled(wf.LocalAccounts(tuple(a for a in accts.accounts if a.rid != 501)))
    assert got.status is Status.ERROR


def test_local_admins_names_the_nested_domain_group_and_accepts_approval_by_sid() -> None:
    group: wf.AdminGroup = value("weak", "windows.admin_group")
    got = accounts.local_admins(group)
    assert got.status is Status.FAIL
    assert got.observed["not_allowed"] == ("HPLC-PC07\\lab", "EX\\Domain Users")
    assert "groups whose members are administrators too: EX\\Domain Users" in got.message
    sids = tuple(m.sid for m in group.members)
    assert accounts.local_admins(group, approved_privileged=sids).status is Status.PASS


def test_stale_counts_never_used_accounts_by_their_password_age() -> None:
    fresh = with_account("hardened-2022", 1001, last_logon=None, password_last_set=NOW - timedelta(days=10))
    old = with_account("hardened-2022", 1001, last_logon=None, password_last_set=NOW - timedelta(days=100))
    unknown = with_account("hardened-2022", 1001, last_logon=None, password_last_set=None)
    assert [accounts.stale(a).status for a in (fresh, old, unknown)] == [Status.PASS, Status.FAIL, Status.FAIL]


def test_service_accounts_may_keep_passwords_that_never_expire() -> None:
    accts = with_account("hardened-2022", 1001, password_expires=False)
    assert accounts.password_never_expires(accts).status is Status.FAIL
    assert accounts.password_never_expires(accts, service_accounts=("SVC-BACKUP",)).status is Status.PASS


@pytest.mark.parametrize(("changes", "status"), [
    ({}, Status.PASS),
    ({"ConsentPromptBehaviorAdmin": 5}, Status.FAIL),  # the Windows default: no prompt for Windows binaries
    ({"EnableLUA": None}, Status.FAIL),
    ({"InactivityTimeoutSecs": 0}, Status.PASS),  # idle lock is another check
])
def test_uac(changes: dict[str, int | None], status: Status) -> None:
    assert accounts.uac(registry(**changes)).status is status


@pytest.mark.parametrize(("seconds", "status"), [(900, Status.PASS), (901, Status.FAIL), (0, Status.FAIL),
                                                 (None, Status.FAIL)])
def test_idle_lock(seconds: int | None, status: Status) -> None:
    assert accounts.idle_lock(registry(InactivityTimeoutSecs=seconds)).status is status


def test_rdp_checks_are_not_applicable_when_remote_desktop_is_denied_and_policy_wins_over_local() -> None:
    off = registry(fDenyTSConnections=1)
    assert (accounts.nla(off).status, crypto.rdp(off).status) == (Status.NOT_APPLICABLE,) * 2
    # hardened: the local RDP-Tcp values are weak, the Group Policy values (which win) are strong
    assert accounts.nla(registry()).status is Status.PASS
    no_policy = registry(UserAuthentication=None, SecurityLayer=None, MinEncryptionLevel=None)
    assert crypto.rdp(no_policy).status is Status.FAIL


def test_a_registry_value_the_collector_did_not_read_is_an_error_through_the_engine() -> None:
    with pytest.raises(LookupError, match="was not collected"):
        wf.Registry(()).dword(wf.LSA, "NoLMHash")
    with pytest.raises(LookupError, match="is a string"):
        wf.Registry((wf.RegistryValue(wf.LSA, "NoLMHash", "1"),)).dword(wf.LSA, "NoLMHash")


def test_tls_needs_explicit_disabling_of_the_old_protocols() -> None:
    reg: wf.Registry = value("hardened-2022", "windows.registry")
    unset = wf.Registry(tuple(dataclasses.replace(v, data=None) if "TLS 1.1" in v.key else v for v in reg.values))
    got = crypto.tls_protocols(unset)
    assert got.status is Status.FAIL and "TLS 1.1 is not disabled (Enabled = not set)" in got.message
    no12 = wf.Registry(tuple(dataclasses.replace(v, data=0) if "TLS 1.2" in v.key else v for v in reg.values))
    assert "TLS 1.2 is disabled" in crypto.tls_protocols(no12).message


def test_smb_encryption_only_when_the_policy_asks() -> None:
    smb = dataclasses.replace(value("hardened-2022", "windows.smb_server"), encrypt_data=False)
    assert crypto.smb(smb).status is Status.PASS
    assert crypto.smb(smb, smb_require_encryption=True).status is Status.FAIL


def test_encrypted_mounts_named_in_policy_and_a_volume_still_encrypting() -> None:
    bl: wf.BitLocker = value("hardened-2022", "windows.bitlocker")
    assert crypto.bitlocker(bl, encrypted_mounts=("C:",)).status is Status.PASS
    assert crypto.bitlocker(bl, encrypted_mounts=("F:",)).message == "F:: not a BitLocker volume"
    busy = dataclasses.replace(bl, volumes=(dataclasses.replace(bl.volumes[0], status="EncryptionInProgress"),
                                            bl.volumes[1]))
    assert crypto.bitlocker(busy).status is Status.FAIL


def test_password_policy_edges() -> None:
    rules: wf.PasswordRules = value("hardened-2022", "windows.password_policy")
    assert (rules.min_length, rules.max_age_days, rules.min_age_days, rules.history) == (14, 90.0, 1.0, 24)
    assert (rules.lockout_threshold, rules.lockout_duration_minutes, rules.lockout_window_minutes) == (5, 30.0, 30.0)
    never = dataclasses.replace(rules, max_age_days=None)
    assert password.max_age(never).message == "maximum age never > 90 days"
    assert password.lockout(dataclasses.replace(rules, lockout_threshold=0)).status is Status.FAIL
    assert password.complexity(dataclasses.replace(rules, complexity=False), password_complexity=False).status \
        is Status.PASS


@pytest.mark.parametrize(("level", "status"), [(5, Status.PASS), (3, Status.FAIL), (None, Status.FAIL)])
def test_ntlm_level(level: int | None, status: Status) -> None:
    assert password.ntlm_level(registry(LmCompatibilityLevel=level)).status is status


def test_audit_policy_names_a_missing_subcategory_and_the_legacy_override() -> None:
    pol: wf.AuditPolicy = value("hardened-2022", "windows.audit_policy")
    logon = "0CCE9215-69AE-11D9-BED3-505054503030"
    without = wf.AuditPolicy(tuple(s for s in pol.settings if s.guid != logon))
    got = audit.policy(without, registry(SCENoApplyLegacyAuditPolicy=0))
    assert got.status is Status.FAIL
    assert "Logon {" + logon + "}: not reported by the host" in got.message
    assert "SCENoApplyLegacyAuditPolicy = 0" in got.message


def test_log_retention_of_an_overwriting_log_depends_on_its_oldest_event() -> None:
    log: wf.SecurityLog = dataclasses.replace(value("hardened-2022", "windows.security_log"), log_mode="Circular")
    assert audit.log_retention(log).status is Status.PASS  # holds 400 days
    assert audit.log_retention(dataclasses.replace(log, oldest_event=NOW - timedelta(days=30))).status \
        is Status.FAIL
    assert audit.log_retention(dataclasses.replace(log, oldest_event=NOW + timedelta(days=30))).status \
        is Status.ERROR
    assert audit.log_retention(dataclasses.replace(log, log_mode="Sideways")).status is Status.ERROR


def test_forwarding_by_an_agent_only_when_its_service_runs() -> None:
    none = wf.EventForwarding(())
    running = wf.Services((wf.Service("SplunkForwarder", "Auto", "Running"),))
    stopped = wf.Services((wf.Service("SplunkForwarder", "Auto", "Stopped"),))
    assert audit.forwarding(none, running).status is Status.PASS
    assert audit.forwarding(none, stopped).status is Status.FAIL


def test_time_sync_edges() -> None:
    t: wf.TimeStatus = value("hardened-2022", "windows.time")
    assert audit.synchronized(t).status is Status.PASS
    assert "offset +2.000 s" in audit.synchronized(dataclasses.replace(t, phase_offset_seconds=2.0)).message
    assert audit.synchronized(dataclasses.replace(t, sync_type="NoSync")).status is Status.FAIL
    assert audit.synchronized(dataclasses.replace(t, since_last_sync_seconds=90000.0)).status is Status.FAIL


def test_backup_from_a_declared_agent_and_a_last_backup_in_the_future() -> None:
    none = wf.BackupState(True, (), None, None, ())
    agent = wf.Services((wf.Service("VeeamAgent", "Auto", "Running"),))
    assert backup.scheduled(none, agent).status is Status.FAIL
    assert backup.scheduled(none, agent, backup_agent_services=("VeeamAgent",)).status is Status.PASS
    future = dataclasses.replace(none, last_success=NOW + timedelta(days=2))
    assert backup.recent(future).status is Status.ERROR
    assert backup.recent(none).status is Status.FAIL
