"""Windows facts: what one PowerShell round trip reads from a Windows host, as meaning, never as localised text.

Accounts and groups are identified by SID and relative id (RID 500 is the built-in Administrator, 501 Guest,
S-1-5-32-544 the local Administrators group, whatever their names in the host's language); settings are registry
numbers, audit settings are keyed by subcategory GUID, times are UTC. The password and lockout policy has the
same type as Active Directory's domain policy (``scanner.facts.ldap.PasswordRules``): the meaning is the same.
"""
from __future__ import annotations

from datetime import datetime

from scanner.facts.backup import BackupStatus
from scanner.facts.ldap import PasswordRules
from scanner.value import frozen

__all__ = ["AdminGroup", "AdminMember", "AuditPolicy", "AuditSetting", "BackupState", "BackupStatus", "BitLocker",
           "EventForwarding",
           "FirewallProfile", "Firewall", "LocalAccount", "LocalAccounts", "PasswordRules", "Registry",
           "RegistryValue", "SecurityLog", "Service", "Services", "SmbServer", "TimeStatus", "Volume", "WinRMService",
           "REGISTRY_VALUES", "LSA", "SYSTEM_POLICIES", "SCHANNEL", "LANMAN_SERVER", "TERMINAL_SERVER", "RDP_TCP",
           "TS_POLICIES", "BUILTIN_ADMIN_RID", "GUEST_RID", "ADMINISTRATORS_SID"]

BUILTIN_ADMIN_RID = 500
GUEST_RID = 501
ADMINISTRATORS_SID = "S-1-5-32-544"


@frozen
class LocalAccount:
    name: str
    sid: str
    rid: int
    enabled: bool
    password_required: bool
    password_expires: bool  # False: the account's password never expires
    last_logon: datetime | None  # None: never logged on
    password_last_set: datetime | None


@frozen
class LocalAccounts:
    accounts: tuple[LocalAccount, ...]

    def by_rid(self, rid: int) -> LocalAccount | None:
        return next((a for a in self.accounts if a.rid == rid), None)


@frozen
class AdminMember:
    name: str  # DOMAIN\name or COMPUTER\name, as the host resolves it
    sid: str
    kind: str  # "user" or "group" (ADSI class, not localised)
    local: bool  # an account or group of this computer, not of a domain


@frozen
class AdminGroup:
    """The members of the local Administrators group (S-1-5-32-544, whatever its localised name)."""

    name: str
    members: tuple[AdminMember, ...]


@frozen
class RegistryValue:
    key: str  # e.g. HKLM:\SYSTEM\CurrentControlSet\Control\Lsa
    name: str
    data: int | str | None  # None: the value (or its key) does not exist


@frozen
class Registry:
    """The registry values of ``REGISTRY_VALUES``, read as numbers (DWORD) or strings."""

    values: tuple[RegistryValue, ...]

    def get(self, key: str, name: str) -> int | str | None:
        folded_key, folded_name = key.lower(), name.lower()  # once, not per value; the name first (differs most)
        for v in self.values:
            if v.name.lower() == folded_name and v.key.lower() == folded_key:
                return v.data
        raise LookupError(f"registry value {key}\\{name} was not collected")

    def dword(self, key: str, name: str) -> int | None:
        value = self.get(key, name)
        if isinstance(value, str):
            raise LookupError(f"registry value {key}\\{name} is a string ({value[:40]!r}), expected a number")
        return value


LSA = r"HKLM:\SYSTEM\CurrentControlSet\Control\Lsa"
SYSTEM_POLICIES = r"HKLM:\SOFTWARE\Microsoft\Windows\CurrentVersion\Policies\System"
SCHANNEL = r"HKLM:\SYSTEM\CurrentControlSet\Control\SecurityProviders\SCHANNEL\Protocols"
LANMAN_SERVER = r"HKLM:\SYSTEM\CurrentControlSet\Services\LanmanServer\Parameters"
TERMINAL_SERVER = r"HKLM:\SYSTEM\CurrentControlSet\Control\Terminal Server"
RDP_TCP = TERMINAL_SERVER + r"\WinStations\RDP-Tcp"
TS_POLICIES = r"HKLM:\SOFTWARE\Policies\Microsoft\Windows NT\Terminal Services"
SCHANNEL_PROTOCOLS = ("SSL 2.0", "SSL 3.0", "TLS 1.0", "TLS 1.1", "TLS 1.2")

#: Every registry value the collector reads (key, value name): the contract between collector and checks.
REGISTRY_VALUES: tuple[tuple[str, str], ...] = (
    (LSA, "NoLMHash"), (LSA, "LmCompatibilityLevel"), (LSA, "RestrictAnonymous"), (LSA, "RestrictAnonymousSAM"),
    (LSA, "EveryoneIncludesAnonymous"), (LSA, "SCENoApplyLegacyAuditPolicy"),
    (LANMAN_SERVER, "RestrictNullSessAccess"),
    (SYSTEM_POLICIES, "EnableLUA"), (SYSTEM_POLICIES, "ConsentPromptBehaviorAdmin"),
    (SYSTEM_POLICIES, "PromptOnSecureDesktop"), (SYSTEM_POLICIES, "FilterAdministratorToken"),
    (SYSTEM_POLICIES, "InactivityTimeoutSecs"),
    (TERMINAL_SERVER, "fDenyTSConnections"),
    (RDP_TCP, "UserAuthentication"), (RDP_TCP, "SecurityLayer"), (RDP_TCP, "MinEncryptionLevel"),
    (TS_POLICIES, "UserAuthentication"), (TS_POLICIES, "SecurityLayer"), (TS_POLICIES, "MinEncryptionLevel"),
    (TS_POLICIES, "fDenyTSConnections"),
    *((SCHANNEL + "\\" + p + r"\Server", n) for p in SCHANNEL_PROTOCOLS for n in ("Enabled", "DisabledByDefault")),
)


@frozen
class SmbServer:
    """Get-SmbServerConfiguration."""

    smb1_enabled: bool
    signing_required: bool
    encrypt_data: bool
    reject_unencrypted_access: bool


@frozen
class WinRMService:
    """The WinRM service configuration (WSMan:\\localhost\\Service) and its listeners' transports."""

    allow_unencrypted: bool
    basic_auth: bool
    listeners: tuple[str, ...]  # "HTTP" / "HTTPS"


@frozen
class AuditSetting:
    guid: str  # subcategory GUID, upper case, without braces
    success: bool
    failure: bool


@frozen
class AuditPolicy:
    """The effective advanced audit policy (AuditQuerySystemPolicy), per subcategory GUID."""

    settings: tuple[AuditSetting, ...]

    def get(self, guid: str) -> AuditSetting | None:
        folded = guid.upper()
        return next((s for s in self.settings if s.guid.upper() == folded), None)


@frozen
class SecurityLog:
    """Get-WinEvent -ListLog Security, and the time of its oldest event."""

    enabled: bool
    max_size_bytes: int
    log_mode: str  # Circular (overwrite as needed), AutoBackup (archive when full), Retain (do not overwrite)
    record_count: int
    oldest_event: datetime | None  # None: the log is empty


@frozen
class Service:
    name: str  # service (key) name, not the localised display name
    start_mode: str  # Auto, Manual, Disabled, Boot, System
    state: str  # Running, Stopped, ...

    @property
    def running(self) -> bool:
        return self.state == "Running"


@frozen
class Services:
    services: tuple[Service, ...]

    def get(self, name: str) -> Service | None:
        folded = name.lower()
        return next((s for s in self.services if s.name.lower() == folded), None)


@frozen
class EventForwarding:
    """Windows Event Forwarding: the subscription managers the policy configures (source-initiated)."""

    subscription_managers: tuple[str, ...]


@frozen
class TimeStatus:
    """w32time: its configuration (registry Type, NtpServer), its service, and ``w32tm /query /status /verbose``
    read by position and number (its labels are localised)."""

    service_running: bool
    sync_type: str  # NTP, NT5DS, AllSync, NoSync
    ntp_server: str
    leap_indicator: int  # 3: not synchronised
    stratum: int
    source: str
    phase_offset_seconds: float
    last_sync_error: int  # 0: the last synchronisation succeeded
    since_last_sync_seconds: float


@frozen
class Volume:
    mount: str  # C:
    kind: str  # OperatingSystem, FixedData, Removable
    protection_on: bool
    status: str  # FullyEncrypted, EncryptionInProgress, FullyDecrypted, ...
    method: str  # XtsAes256, Aes128, None, ...


@frozen
class BitLocker:
    available: bool  # False: the BitLocker feature (and its WMI provider) is not installed
    volumes: tuple[Volume, ...]
    fixed_volumes: tuple[str, ...]  # every local fixed volume with a drive letter (Win32_Volume DriveType 3)

    def volume(self, mount: str) -> Volume | None:
        return next((v for v in self.volumes if v.mount.upper() == mount.upper()), None)


@frozen
class BackupState:
    """Windows Server Backup (Get-WBPolicy, Get-WBSummary) and the VSS snapshot schedule."""

    wsb_installed: bool
    schedule: tuple[str, ...]  # the backup policy's daily times (HH:mm), empty without a policy
    last_success: datetime | None
    last_result_hr: int | None  # HRESULT of the last backup (0 = success)
    vss_tasks: tuple[str, ...]  # scheduled tasks ShadowCopyVolume{...}
    #: the status file the policy declares (backup_status_file, read as backup_status_format, as on Linux)
    status: BackupStatus | None = None


@frozen
class FirewallProfile:
    name: str  # Domain, Private, Public
    enabled: bool
    default_inbound: str  # Block, Allow, NotConfigured


@frozen
class Firewall:
    profiles: tuple[FirewallProfile, ...]
