"""checks.windows.crypto on small hand-built facts: every verdict with its exact words and observed values."""
from __future__ import annotations

from typing import Any

import pytest

from checks.windows import crypto
from scanner.facts.windows import (
    RDP_TCP,
    SCHANNEL,
    TERMINAL_SERVER,
    TS_POLICIES,
    BitLocker,
    SmbServer,
    Volume,
    WinRMService,
)
from tests.checks.windows.factories import registry, seen

C = Volume("C:", "OperatingSystem", True, "FullyEncrypted", "XtsAes256")
D = Volume("D:", "FixedData", True, "FullyEncrypted", "XtsAes128")


def _bitlocker(*volumes: Volume, fixed: tuple[str, ...] = ("C:", "D:"), available: bool = True) -> BitLocker:
    return BitLocker(available, volumes, fixed)


@pytest.mark.parametrize(("bl", "mounts", "status", "message", "volumes"), [
    (_bitlocker(C, D), (), "pass", "C:, D: fully encrypted with protection on", ["C:", "D:"]),
    (_bitlocker(C, D, fixed=("c:",)), (), "pass", "c: fully encrypted with protection on", ["c:"]),
    (_bitlocker(C), (), "fail", "D:: not a BitLocker volume", ["C:", "D:"]),
    # the policy's list replaces the fixed volumes
    (_bitlocker(C), ("C:",), "pass", "C: fully encrypted with protection on", ["C:"]),
    (_bitlocker(C, D), ("E:", "D:"), "fail", "E:: not a BitLocker volume", ["E:", "D:"]),
    (_bitlocker(C, Volume("D:", "FixedData", False, "FullyEncrypted", "XtsAes128")), (), "fail",
     "D:: protection off, FullyEncrypted", ["C:", "D:"]),
    (_bitlocker(Volume("C:", "OperatingSystem", True, "EncryptionInProgress", "XtsAes256"),
                Volume("D:", "FixedData", False, "FullyDecrypted", "None")), (), "fail",
     "C:: protection on, EncryptionInProgress; D:: protection off, FullyDecrypted", ["C:", "D:"]),
    (_bitlocker(C, D, fixed=()), (), "fail", "no fixed volume was listed and none is named in encrypted_mounts", []),
    (_bitlocker(C, D, available=False), (), "fail", "BitLocker is not installed: C:, D: are not encrypted by it",
     ["C:", "D:"]),
])
def test_bitlocker_every_wanted_volume_fully_encrypted_and_protected(bl: BitLocker, mounts: tuple[str, ...],
                                                                     status: str, message: str,
                                                                     volumes: list[str]) -> None:
    got = crypto.bitlocker(bl, encrypted_mounts=mounts) if mounts else crypto.bitlocker(bl)
    assert seen(got) == (status, "BitLocker", message, {"volumes": volumes, "available": bl.available})


STRONG = {"SSL 2.0": 0, "SSL 3.0": 0, "TLS 1.0": 0, "TLS 1.1": 0, "TLS 1.2": 1}


@pytest.mark.parametrize(("changes", "status", "message"), [
    ({}, "pass", "only TLS 1.2 and later are enabled"),
    ({"TLS 1.2": None}, "pass", "only TLS 1.2 and later are enabled"),  # unset TLS 1.2 is on by default
    ({"TLS 1.2": 0}, "fail", "TLS 1.2 is disabled"),
    ({"SSL 2.0": 1}, "fail", "SSL 2.0 is not disabled (Enabled = 1)"),
    ({"SSL 3.0": None, "TLS 1.1": 4294967295}, "fail",
     "SSL 3.0 is not disabled (Enabled = not set); TLS 1.1 is not disabled (Enabled = 4294967295)"),
    ({"TLS 1.0": None, "TLS 1.2": 0}, "fail", "TLS 1.0 is not disabled (Enabled = not set); TLS 1.2 is disabled"),
])
def test_tls_protocols_old_ones_disabled_explicitly_and_tls_1_2_not(changes: dict[str, int | None], status: str,
                                                                     message: str) -> None:
    values = {**STRONG, **changes}
    reg = registry({(f"{SCHANNEL}\\{p}\\Server", "Enabled"): v for p, v in values.items()})
    assert seen(crypto.tls_protocols(reg)) == (status, "SChannel", message, values)


@pytest.mark.parametrize(("smb", "require", "status", "message"), [
    (SmbServer(False, True, False, False), None, "pass", "SMB1 off and signing required"),
    (SmbServer(False, True, False, False), True, "fail", "encryption is not required"),
    (SmbServer(False, True, True, False), True, "fail", "encryption is not required"),
    (SmbServer(False, True, False, True), True, "fail", "encryption is not required"),
    (SmbServer(False, True, True, True), True, "pass", "SMB1 off and signing required"),
    (SmbServer(True, True, True, True), None, "fail", "SMB1 is enabled"),
    (SmbServer(True, False, True, True), None, "fail", "SMB1 is enabled; signing is not required"),
    (SmbServer(False, False, False, False), True, "fail", "signing is not required; encryption is not required"),
])
def test_smb_without_version_1_with_signing_and_encryption_when_asked(smb: SmbServer, require: bool | None,
                                                                      status: str, message: str) -> None:
    got = crypto.smb(smb) if require is None else crypto.smb(smb, smb_require_encryption=require)
    assert seen(got) == (status, "SMB server", message, {"smb1": smb.smb1_enabled,
                                                         "signing_required": smb.signing_required,
                                                         "encrypt_data": smb.encrypt_data})


def _rdp(policy: tuple[int | None, int | None], local: tuple[int | None, int | None],
         deny: tuple[int | None, int | None] = (None, None)) -> Any:
    """(SecurityLayer, MinEncryptionLevel) of the policy key and of RDP-Tcp; fDenyTSConnections (policy, local)."""
    return registry({(TS_POLICIES, "SecurityLayer"): policy[0], (TS_POLICIES, "MinEncryptionLevel"): policy[1],
                     (RDP_TCP, "SecurityLayer"): local[0], (RDP_TCP, "MinEncryptionLevel"): local[1],
                     (TS_POLICIES, "fDenyTSConnections"): deny[0], (TERMINAL_SERVER, "fDenyTSConnections"): deny[1]})


GOOD = "TLS security layer and high encryption"


@pytest.mark.parametrize(("reg", "status", "message", "observed"), [
    (_rdp((2, 3), (0, 1)), "pass", GOOD, (2, 3)),
    (_rdp((None, None), (2, 4)), "pass", GOOD, (2, 4)),
    (_rdp((1, None), (2, 3)), "fail", f"security layer is not TLS ({TS_POLICIES}\\SecurityLayer = 1)", (1, 3)),
    (_rdp((3, 2), (2, 3)), "fail", f"security layer is not TLS ({TS_POLICIES}\\SecurityLayer = 3); encryption level "
     f"is below high ({TS_POLICIES}\\MinEncryptionLevel = 2)", (3, 2)),
    (_rdp((None, None), (None, None)), "fail", f"security layer is not TLS ({RDP_TCP}\\SecurityLayer = None); "
     f"encryption level is below high ({RDP_TCP}\\MinEncryptionLevel = None)", (None, None)),
    (_rdp((None, None), (2, 1), deny=(0, 1)), "fail", f"encryption level is below high ({RDP_TCP}\\MinEncryptionLevel "
     "= 1)", (2, 1)),
])
def test_rdp_tls_layer_and_high_encryption_policy_first(reg: Any, status: str, message: str,
                                                        observed: tuple[int | None, int | None]) -> None:
    assert seen(crypto.rdp(reg)) == (status, "Remote Desktop", message,
                                     {"security_layer": observed[0], "min_encryption_level": observed[1]})


@pytest.mark.parametrize("deny", [(1, None), (None, 1), (1, 0)])
def test_rdp_is_not_applicable_when_remote_desktop_is_denied(deny: tuple[int | None, int | None]) -> None:
    where = TS_POLICIES if deny[0] == 1 else TERMINAL_SERVER
    assert seen(crypto.rdp(_rdp((None, None), (0, 1), deny=deny))) == (
        "not_applicable", "Remote Desktop", f"Remote Desktop connections are denied ({where}\\fDenyTSConnections = 1)",
        {})


@pytest.mark.parametrize(("service", "status", "message"), [
    (WinRMService(False, False, ("HTTPS",)), "pass", "WinRM requires encryption and refuses Basic"),
    (WinRMService(True, False, ("HTTP", "HTTPS")), "fail", "unencrypted traffic is allowed"),
    (WinRMService(False, True, ()), "fail", "Basic authentication is on"),
    (WinRMService(True, True, ("HTTP",)), "fail", "unencrypted traffic is allowed; Basic authentication is on"),
])
def test_winrm_refuses_unencrypted_traffic_and_basic(service: WinRMService, status: str, message: str) -> None:
    assert seen(crypto.winrm(service)) == (status, "WinRM service", message, {
        "allow_unencrypted": service.allow_unencrypted, "basic": service.basic_auth,
        "listeners": list(service.listeners)})
