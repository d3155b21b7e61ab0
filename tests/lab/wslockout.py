"""Account lockout for the WS-Man responder (tests/lab/wsman.py): the substitute for a Windows host's lockout.

No Windows host runs here. :class:`LockoutResponder` is the WS-Man responder with a lockout table: every NTLM
AUTHENTICATE that fails counts against the user it names; ``threshold`` failures lock the user, and a locked user's
logons are refused (HTTP 401) even with the right password; a good logon resets the count. Its script reply plays
the PowerShell of scanner/probes/winrm.py: the lockout state of ``$name`` (``missing``/``locked=0|1``) and the
unlock, which can be made to fail (``deny_unlock``: the scan account lost the right, HRESULT E_ACCESSDENIED).
The handler is extended by subclassing, so wsman.py itself is unchanged.
"""
from __future__ import annotations

import base64
import re
import struct
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.lab.slapdlab import CA, ServerCert
from tests.lab.wsman import WSManResponder

ACCESS_DENIED = "-2147024891"


@dataclass
class Lockouts:
    threshold: int
    failures: dict[str, int] = field(default_factory=dict)
    locked: set[str] = field(default_factory=set)
    attempts: dict[str, int] = field(default_factory=dict)  # every AUTHENTICATE per user
    lock: threading.Lock = field(default_factory=threading.Lock)

    def state(self) -> dict[str, tuple[int, bool]]:
        with self.lock:
            return {u: (self.failures.get(u, 0), u in self.locked) for u in {*self.failures, *self.locked}}


def authenticate_user(header: str) -> str | None:
    """The user (lower case, without domain) an NTLM AUTHENTICATE message in an Authorization header names."""
    _, _, value = header.partition(" ")
    try:
        token = base64.b64decode(value)
    except ValueError:
        return None
    if token[:8] != b"NTLMSSP\x00" or token[8:12] != b"\x03\x00\x00\x00" or len(token) < 64:
        return None
    length, _, offset = struct.unpack("<HHI", token[36:44])
    flags = struct.unpack("<I", token[60:64])[0]
    raw = token[offset:offset + length]
    return (raw.decode("utf-16-le") if flags & 1 else raw.decode("latin-1")).lower()


def short(user: str) -> str:
    return user.lower().rpartition("\\")[2].partition("@")[0]


class LockoutResponder(WSManResponder):
    def __init__(self, *, threshold: int, users: dict[str, str], directory: Path, ca: CA, cert: ServerCert,
                 **kwargs: Any) -> None:
        self.lockouts = Lockouts(threshold)
        self.known = {short(u) for u in users}
        self.deny_unlock = False
        self.account_scripts: list[tuple[str, str]] = []  # (kind, name)
        super().__init__(self._reply, tls=True, users=users, directory=directory, ca=ca, cert=cert, **kwargs)
        base = self._server.RequestHandlerClass
        lockouts = self.lockouts

        class Handler(base):  # type: ignore[misc, valid-type]
            def _authenticate(self, header: str) -> bool:
                user = authenticate_user(header)
                if user is None:
                    return bool(super()._authenticate(header))
                name = short(user)
                with lockouts.lock:
                    lockouts.attempts[name] = lockouts.attempts.get(name, 0) + 1
                    if name in lockouts.locked:
                        self._send(401, b"")
                        return False
                ok = bool(super()._authenticate(header))
                with lockouts.lock:
                    if ok:
                        lockouts.failures[name] = 0
                    else:
                        lockouts.failures[name] = lockouts.failures.get(name, 0) + 1
                        if lockouts.failures[name] >= lockouts.threshold:
                            lockouts.locked.add(name)
                return ok

        self._server.RequestHandlerClass = Handler

    def _reply(self, script: str) -> bytes:
        match = re.search(r"^\$name = '((?:[^']|'')*)'$", script, re.M)
        if not match:
            return b"unexpected script\n"
        name = match.group(1).replace("''", "'").lower()
        unlock = "Unlock-ADAccount" in script or "IsAccountLocked" in script
        self.account_scripts.append(("unlock" if unlock else "state", name))
        if name not in self.known:
            return b"gxpscan-account:missing\n" if not unlock else f"gxpscan-account:error={ACCESS_DENIED}\n".encode()
        if unlock:
            if self.deny_unlock:
                return f"gxpscan-account:error={ACCESS_DENIED}\n".encode()
            with self.lockouts.lock:
                self.lockouts.locked.discard(name)
                self.lockouts.failures[name] = 0
            return b"gxpscan-account:unlocked\n"
        with self.lockouts.lock:
            return f"gxpscan-account:locked={int(name in self.lockouts.locked)}\n".encode()
