"""Windows encryption: BitLocker, SChannel protocols, SMB, RDP and WinRM transport security."""
from __future__ import annotations

from typing import Any

from checks.windows._common import policy_first, rdp_off, settings_finding
from scanner.facts.windows import RDP_TCP, SCHANNEL, TS_POLICIES, BitLocker, Registry, SmbServer, WinRMService
from scanner.model import Area, Finding, Severity, failed
from scanner.registry import check

WEAK_PROTOCOLS = ("SSL 2.0", "SSL 3.0", "TLS 1.0", "TLS 1.1")


@check(id="windows.crypto.bitlocker", title="Fixed volumes are protected by BitLocker", severity=Severity.HIGH,
       area=Area.ENCRYPTION,
       criterion="Every volume in encrypted_mounts (default: every local fixed volume with a drive letter) is "
                 "fully encrypted with BitLocker protection on.",
       remediation="Install the BitLocker feature, then Enable-BitLocker -MountPoint <X:> -EncryptionMethod "
                   "XtsAes256 with a TPM protector and a recovery password kept in escrow.")
def bitlocker(bitlocker: BitLocker, encrypted_mounts: tuple[str, ...] = ()) -> Finding:
    wanted = list(encrypted_mounts) or list(bitlocker.fixed_volumes)
    obs: dict[str, Any] = {"volumes": wanted, "available": bitlocker.available}
    if not wanted:
        return failed("BitLocker", "no fixed volume was listed and none is named in encrypted_mounts", **obs)
    if not bitlocker.available:
        return failed("BitLocker", f"BitLocker is not installed: {', '.join(wanted)} are not encrypted by it", **obs)
    problems = []
    for mount in wanted:
        v = bitlocker.volume(mount)
        if v is None:
            problems.append(f"{mount}: not a BitLocker volume")
        elif not v.protection_on or v.status != "FullyEncrypted":
            problems.append(f"{mount}: protection {'on' if v.protection_on else 'off'}, {v.status}")
    return settings_finding("BitLocker", problems, f"{', '.join(wanted)} fully encrypted with protection on", **obs)


@check(id="windows.crypto.tls_protocols", title="SSL and old TLS are disabled in SChannel", severity=Severity.HIGH,
       area=Area.ENCRYPTION,
       criterion="SChannel's server side has SSL 2.0, SSL 3.0, TLS 1.0 and TLS 1.1 disabled explicitly (Enabled = 0; "
                 "Windows Server 2019 and 2022 enable TLS 1.0/1.1 by default) and TLS 1.2 not disabled.",
       remediation="Under HKLM\\SYSTEM\\CurrentControlSet\\Control\\SecurityProviders\\SCHANNEL\\Protocols\\<protocol>"
                   "\\Server set Enabled = 0 and DisabledByDefault = 1 for SSL 2.0, SSL 3.0, TLS 1.0, TLS 1.1; reboot.")
def tls_protocols(registry: Registry) -> Finding:
    problems = []
    obs: dict[str, Any] = {}
    for proto in (*WEAK_PROTOCOLS, "TLS 1.2"):
        value = registry.dword(f"{SCHANNEL}\\{proto}\\Server", "Enabled")
        obs[proto] = value
        if proto in WEAK_PROTOCOLS and value != 0:
            problems.append(f"{proto} is not disabled (Enabled = {'not set' if value is None else value})")
        elif proto == "TLS 1.2" and value == 0:
            problems.append("TLS 1.2 is disabled")
    return settings_finding("SChannel", problems, "only TLS 1.2 and later are enabled", **obs)


@check(id="windows.crypto.smb", title="SMB: version 1 off, signing required", severity=Severity.HIGH,
       area=Area.ENCRYPTION,
       criterion="The SMB server has SMB1 disabled and requires signing; with smb_require_encryption it also "
                 "encrypts data and refuses unencrypted access.",
       remediation="Set-SmbServerConfiguration -EnableSMB1Protocol $false -RequireSecuritySignature $true "
                   "(and -EncryptData $true -RejectUnencryptedAccess $true where encryption is required).")
def smb(smb_server: SmbServer, smb_require_encryption: bool = False) -> Finding:
    problems = []
    if smb_server.smb1_enabled:
        problems.append("SMB1 is enabled")
    if not smb_server.signing_required:
        problems.append("signing is not required")
    if smb_require_encryption and not (smb_server.encrypt_data and smb_server.reject_unencrypted_access):
        problems.append("encryption is not required")
    return settings_finding("SMB server", problems, "SMB1 off and signing required", smb1=smb_server.smb1_enabled,
                            signing_required=smb_server.signing_required, encrypt_data=smb_server.encrypt_data)


@check(id="windows.crypto.rdp", title="Remote Desktop uses TLS and high encryption", severity=Severity.HIGH,
       area=Area.ENCRYPTION,
       criterion="Where Remote Desktop is allowed, SecurityLayer = 2 (TLS) and MinEncryptionLevel >= 3 (high or "
                 "FIPS), policy key first, then RDP-Tcp.",
       remediation="Remote Desktop Session Host > Security: 'Require use of specific security layer' = SSL and "
                   "'Set client connection encryption level' = High Level.")
def rdp(registry: Registry) -> Finding:
    if off := rdp_off(registry, "Remote Desktop"):
        return off
    layer, lwhere = policy_first(registry, TS_POLICIES, RDP_TCP, "SecurityLayer")
    level, ewhere = policy_first(registry, TS_POLICIES, RDP_TCP, "MinEncryptionLevel")
    problems = []
    if layer != 2:
        problems.append(f"security layer is not TLS ({lwhere} = {layer})")
    if level is None or level < 3:
        problems.append(f"encryption level is below high ({ewhere} = {level})")
    return settings_finding("Remote Desktop", problems, "TLS security layer and high encryption",
                            security_layer=layer, min_encryption_level=level)


@check(id="windows.crypto.winrm", title="WinRM refuses unencrypted traffic and Basic authentication",
       severity=Severity.HIGH, area=Area.ENCRYPTION,
       criterion="The WinRM service has AllowUnencrypted = false and Basic authentication off.",
       remediation="Set-Item WSMan:\\localhost\\Service\\AllowUnencrypted $false; Set-Item "
                   "WSMan:\\localhost\\Service\\Auth\\Basic $false (or the WinRM Service policies).")
def winrm(winrm_service: WinRMService) -> Finding:
    problems = []
    if winrm_service.allow_unencrypted:
        problems.append("unencrypted traffic is allowed")
    if winrm_service.basic_auth:
        problems.append("Basic authentication is on")
    return settings_finding("WinRM service", problems, "WinRM requires encryption and refuses Basic",
                            allow_unencrypted=winrm_service.allow_unencrypted, basic=winrm_service.basic_auth,
                            listeners=list(winrm_service.listeners))
