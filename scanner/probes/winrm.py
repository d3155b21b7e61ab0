"""WinRM probes for challenge tests: a logon with a wrong password, and the test account's lockout state read or
reset through the scan's own WinRM session.

The wrong logon authenticates NTLM (or the target's ``auth``) against the target's WinRM listener as the test
account with a random password made here (never the real one), after the same verified TLS handshake as the
connector: no credential leaves before the certificate is accepted. It is refused with HTTP 401 on a healthy
server; one probe is one logon attempt.

The state and the unlock run as PowerShell in the scan's session (``WinRMConnector``). A plain account name is a
local account (``Win32_UserAccount.Lockout``; unlocked through ADSI ``WinNT://./name`` ``IsAccountLocked``); a name
with a domain (``CORP\\name`` or ``name@corp``) is a domain account (``Get-ADUser -Properties LockedOut``,
``Unlock-ADAccount``). The scripts print fixed markers and numbers only, so no display language changes the answer.
"""
from __future__ import annotations

import re
import secrets
from typing import Any

from scanner.challenge import Probe
from scanner.model import Target
from scanner.value import frozen

MARK = "gxpscan-account:"
ACCOUNT = re.compile(r"(?:(?P<domain>[A-Za-z0-9.-]{1,64})\\)?(?P<name>[A-Za-z0-9._ -]{1,64})"
                     r"(?:@(?P<realm>[A-Za-z0-9.-]{1,255}))?")
SCRIPT_TIMEOUT = 60.0
OUTPUT_LIMIT = 64 * 1024


@frozen
class WindowsAccount:
    name: str  # the SAM account name
    domain: bool  # a domain account (AD cmdlets), else a local one

    @classmethod
    def of(cls, text: str) -> WindowsAccount:
        match = ACCOUNT.fullmatch(text)
        if not match or (match["domain"] and match["realm"]):
            raise ValueError(f"challenge_account {text[:80]!r} is not NAME, DOMAIN\\NAME or NAME@DOMAIN")
        return cls(match["name"], bool(match["domain"] or match["realm"]))

    def _quoted(self) -> str:
        return "'" + self.name.replace("'", "''") + "'"

    def state_script(self) -> str:
        read = ("$u = Get-ADUser -Identity $name -Properties LockedOut\n"
                "if ($null -eq $u) { '" + MARK + "missing' } else { '" + MARK + "locked=' + [int][bool]$u.LockedOut }"
                if self.domain else
                "$u = Get-CimInstance -ClassName Win32_UserAccount -Filter (\"LocalAccount=True AND Name='\" + $name "
                "+ \"'\")\nif ($null -eq $u) { '" + MARK + "missing' } else { '" + MARK
                + "locked=' + [int][bool]$u.Lockout }")
        return self._wrap(read)

    def unlock_script(self) -> str:
        act = ("Unlock-ADAccount -Identity $name" if self.domain else
               "$u = [ADSI]('WinNT://./' + $name + ',user')\n$u.IsAccountLocked = $false\n$u.SetInfo()")
        return self._wrap(act + "\n'" + MARK + "unlocked'")

    def _wrap(self, body: str) -> str:
        return (f"$ErrorActionPreference = 'Stop'\n$name = {self._quoted()}\ntry {{\n{body}\n}} catch {{\n"
                f"'{MARK}error=' + $_.Exception.HResult\n}}\n")

    def restore_by_hand(self) -> str:
        if self.domain:
            return f"unlock {self.name}: Unlock-ADAccount -Identity {self.name} (or wait the lockout duration)"
        return (f"unlock the local account {self.name}: Local Users and Groups > {self.name} > clear 'Account is "
                "locked out' (or wait the lockout duration)")


def _marker(stdout: bytes) -> str | None:
    for line in stdout[:OUTPUT_LIMIT].decode("utf-8", "replace").split("\n"):
        if line.strip().startswith(MARK):
            return line.strip()[len(MARK):][:200]
    return None


def _run(target: Target, script: str) -> tuple[str | None, str]:
    """Run one script in the scan's session: (the marker's value or None, what to record)."""
    from scanner.connectors.winrm import WinRMConnector, printable

    with WinRMConnector(target) as connector:
        result = connector.run(script, timeout=SCRIPT_TIMEOUT, limit=OUTPUT_LIMIT)
    value = _marker(result.stdout)
    if value is None:
        shown = printable(result.stdout.decode("utf-8", "replace")) or "no output"
        return None, f"no answer marker (exit {result.exit_code}): {shown}"
    return value, value


def locked_probe(target: Target, account: WindowsAccount, want_locked: bool) -> Probe:
    """ok when the account exists and its lockout state is ``want_locked``."""
    script = account.state_script()
    value, seen = _run(target, script)
    if value in ("locked=0", "locked=1"):
        locked = value == "locked=1"
        return Probe(locked == want_locked, f"{account.name} is {'locked' if locked else 'not locked'}", script,
                     seen)
    if value == "missing":
        return Probe(None, f"{account.name} does not exist", script, seen)
    return Probe(None, f"the lockout state could not be read: {seen}", script, seen)


def unlock_probe(target: Target, account: WindowsAccount) -> Probe:
    script = account.unlock_script()
    value, seen = _run(target, script)
    if value == "unlocked":
        return Probe(True, f"{account.name} unlocked", script, seen)
    if value is not None and value.startswith("error="):
        return Probe(False, f"the unlock failed ({value})", script, seen)
    return Probe(None, f"the unlock gave no answer: {seen}", script, seen)


def wrong_logon_probe(target: Target, account_text: str, timeout: float) -> Probe:
    """One logon over WinRM as the test account with a random wrong password: ok when it is refused (HTTP 401)."""
    import winrm.exceptions as wx
    from winrm.protocol import Protocol

    from scanner.connectors import ConnectorError
    from scanner.connectors.winrm import _ssl_context, _trusting_adapter, endpoint, printable, verify_server

    ep = endpoint(target.name, target.options)
    sent = f"{ep.auth.upper()} logon to {ep.url} as {account_text} with a wrong password"
    if ep.scheme == "https":
        try:
            verify_server(ep, timeout)
        except ConnectorError as exc:
            return Probe(None, f"not attempted: {exc}", sent, "")
    options: dict[str, Any] = {"ca_trust_path": ep.ca_file}
    protocol = Protocol(ep.url, username=account_text, password="wrong-" + secrets.token_urlsafe(24),
                        transport="ntlm", server_cert_validation="validate", **options,
                        read_timeout_sec=int(timeout) + 10, operation_timeout_sec=int(timeout),
                        message_encryption="always" if ep.scheme == "http" else "auto", proxy=None)
    if ep.scheme == "https":
        session = protocol.transport.build_session()
        session.trust_env = False
        session.mount("https://", _trusting_adapter(_ssl_context(ep), ep.pin))
    try:
        shell = protocol.open_shell()
    except wx.InvalidCredentialsError:
        return Probe(True, "refused: HTTP 401 (the credentials were rejected)", sent, "401")
    except (wx.WinRMError, OSError, ValueError) as exc:
        return Probe(None, f"no logon answer: {type(exc).__name__}: {printable(str(exc))}", sent, "")
    except Exception as exc:  # requests' errors: the attempt could not be made or read
        return Probe(None, f"no logon answer: {type(exc).__name__}: {printable(str(exc))}", sent, "")
    protocol.close_shell(shell)
    return Probe(False, "accepted: a shell opened with a wrong password", sent, "shell")
