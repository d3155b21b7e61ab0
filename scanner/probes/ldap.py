"""LDAP challenge probes (ldap3, imported inside each function): one exchange with the directory each.

Every connection is made by the scan's LDAP connector (scanner/connectors/ldap.py): the same verified TLS
(``ldaps://`` or StartTLS against ``ca_file``), the same timeout (the target's ``timeout``), no referral chasing.
Probes never put a password in what they return: a bind is described by its DN and transport only.
"""
from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from scanner.challenge import Probe
from scanner.connectors import ConnectorError
from scanner.connectors.ldap import (
    REFUSAL_CODES,
    Entry,
    LDAPConnector,
    LDAPQueryError,
    _describe,
    _unbind,
    tcp_unreachable,
)
from scanner.model import Target

T = TypeVar("T")

SUCCESS = 0
INVALID_CREDENTIALS = 49
CONSTRAINT_VIOLATION = 19
NO_SUCH_ATTRIBUTE = 16
STRONGER_AUTH_REQUIRED = 8
#: result codes that mean "the directory refused the password change" (policy, rights, or TLS)
CHANGE_REFUSALS = frozenset({CONSTRAINT_VIOLATION, *REFUSAL_CODES})


class Flavor(str, enum.Enum):
    OPENLDAP = "openldap"
    AD = "ad"


@dataclass(frozen=True)
class Directory:
    """What the root DSE says about the directory, read with the scan's account."""

    base_dn: str
    flavor: str | None
    contexts: tuple[str, ...] = ()  # the root DSE's namingContexts (cn=accesslog when the access log is served)


@dataclass
class Kept(Generic[T]):
    """Keeps the value a probe read, for the next steps (in plan mode nothing is read: ``value`` stays None)."""

    value: T | None = None

    def keep(self, pair: tuple[Probe, T | None]) -> Probe:
        self.value = pair[1]
        return pair[0]


def _result(conn: Any) -> tuple[int | None, str]:
    res = conn.result or {}
    code = res.get("result")
    return (code if isinstance(code, int) else None), _describe(res)


def _transport(c: LDAPConnector) -> str:
    s = c.settings
    return f"{s.url} ({'LDAPS' if s.use_ssl else 'StartTLS' if s.starttls else 'no TLS'})"


def _no_cleartext_password(c: LDAPConnector, sent: str) -> Probe | None:
    """The test account's password crosses the network only as the scan's own would: over TLS, or without it
    only where the target says ``allow_plaintext: true``."""
    if c.settings.tls_mode == "none" and not c.settings.allow_plaintext:
        return Probe(None, f"refused to send a password without TLS to {c.settings.url} (use ldaps://, "
                     "starttls: true, or allow_plaintext: true)", sent=sent)
    return None


def _unreachable(exc: BaseException) -> Probe:
    return Probe(None, f"no answer: {type(exc).__name__}: {exc}")


def directory(target: Target) -> tuple[Probe, Directory | None]:
    """Bind with the scan's own account and read the root DSE: base DN and flavour."""
    try:
        with LDAPConnector(target) as c:
            if not c.base_dn:
                return Probe(None, "the root DSE names no naming context"), None
            found = Directory(c.base_dn, c.flavor, c.root_dse.texts("namingContexts") if c.root_dse else ())
    except ConnectorError as exc:
        return Probe(None, f"could not read the root DSE: {exc}"), None
    return Probe(True, f"base DN {found.base_dn}, flavour {found.flavor or 'unknown'}",
                 sent="search base '' scope base (root DSE)", received=f"{found.base_dn} {found.flavor}"), found


def anonymous_bind(target: Target) -> Probe:
    """An anonymous bind over the target's transport; ``ok`` when the server refuses it."""
    import ldap3

    c = LDAPConnector(target)
    conn = c._connection(c._server(), authentication=ldap3.ANONYMOUS)
    sent = f"anonymous bind to {_transport(c)}"
    try:
        conn.open(read_server_info=False)
        if c.settings.starttls and not conn.start_tls(read_server_info=False):
            return Probe(None, f"StartTLS failed: {_result(conn)[1]}", sent=sent)
        accepted = conn.bind()
        code, text = _result(conn)
    except Exception as exc:  # ldap3 raises many socket and TLS types: the answer is unknown
        return _unreachable(exc)
    finally:
        _unbind(conn)
    if accepted:
        return Probe(False, f"anonymous bind accepted: {text}", sent=sent, received=text)
    return Probe(True if code in REFUSAL_CODES or code == INVALID_CREDENTIALS else None,
                 f"anonymous bind refused: {text}", sent=sent, received=text)


def anonymous_search(target: Target, base: str) -> Probe:
    """A subtree search under ``base`` without any bind (anonymous); ``ok`` when refused or nothing comes back."""
    import ldap3

    c = LDAPConnector(target)
    conn = c._connection(c._server(), authentication=ldap3.ANONYMOUS)
    sent = f"search (objectClass=*) under {base!r}, subtree, at most 5 entries, no bind, over {_transport(c)}"
    try:
        conn.open(read_server_info=False)
        if c.settings.starttls and not conn.start_tls(read_server_info=False):
            return Probe(None, f"StartTLS failed: {_result(conn)[1]}", sent=sent)
        conn.search(base, "(objectClass=*)", search_scope=ldap3.SUBTREE, attributes=["1.1"], size_limit=5,
                    time_limit=int(c.settings.timeout))
        code, text = _result(conn)
        dns = [str(r.get("dn", ""))[:200] for r in conn.response or () if r.get("type") == "searchResEntry"]
    except Exception as exc:
        return _unreachable(exc)
    finally:
        _unbind(conn)
    received = f"{text}; {len(dns)} entries: {'; '.join(dns)}"
    if dns:
        return Probe(False, f"{len(dns)} entries returned (e.g. {dns[0]!r})", sent=sent, received=received)
    if code in REFUSAL_CODES or code in (SUCCESS, 32):  # 32 noSuchObject: the base is hidden from anonymous
        return Probe(True, f"no entry returned: {text}", sent=sent, received=received)
    return Probe(None, f"unexpected answer: {text}", sent=sent, received=received)


@dataclass(frozen=True)
class PlaintextAnswer:
    code: int | None  # the bind's result code; None when no LDAP answer came
    no_listener: bool  # the TCP connection was refused: nothing listens on the cleartext port


def plaintext_bind(target: Target, base: str) -> tuple[Probe, PlaintextAnswer | None]:
    """A simple bind without TLS on the cleartext port (the target's for StartTLS, else 389) as a DN that does
    not exist, with a made-up password: no real credential crosses the network and no account counts a failure.

    ``ok`` when the server refuses before checking credentials (confidentialityRequired, strongerAuthRequired,
    ...) or nothing listens; False when it evaluated the credentials (invalidCredentials, or success).
    """
    import ldap3

    c = LDAPConnector(target)
    c.base_dn = base
    url, port = c.plaintext_url()
    dn = c.probe_dn()
    sent = f"simple bind as {dn} with a made-up password over {url} (no TLS)"
    gone = tcp_unreachable(c.settings.host, port, c.settings.timeout)
    if gone is not None:
        if gone.refused:
            return Probe(True, f"nothing listens: {gone.detail}", sent=sent), PlaintextAnswer(None, True)
        return Probe(None, f"could not reach the port: {gone.detail}", sent=sent), None
    conn = c._connection(c._server(use_ssl=False, port=port), user=dn, password="gxpscan-challenge-not-a-password",
                         authentication=ldap3.SIMPLE)
    try:
        conn.open(read_server_info=False)
        conn.bind()
        code, text = _result(conn)
    except Exception as exc:
        return _unreachable(exc), None
    finally:
        _unbind(conn)
    answer = PlaintextAnswer(code, False)
    if code in REFUSAL_CODES:
        return Probe(True, f"refused before the credentials were checked: {text}", sent=sent, received=text), answer
    if code is None:
        return Probe(None, f"no result code: {text}", sent=sent, received=text), answer
    return Probe(False, f"the server evaluated the cleartext bind: {text}", sent=sent, received=text), answer


def bind(target: Target, dn: str, password: str, *, expect: frozenset[int]) -> Probe:
    """A simple bind as ``dn`` over the target's own (verified TLS) transport; ``ok`` when the result code is one
    of ``expect``. The password is never part of the result."""
    import ldap3

    c = LDAPConnector(target)
    sent = f"simple bind as {dn} over {_transport(c)} (password not recorded)"
    if refused := _no_cleartext_password(c, sent):
        return refused
    conn = c._connection(c._server(), user=dn, password=password, authentication=ldap3.SIMPLE)
    try:
        conn.open(read_server_info=False)
        if c.settings.starttls and not conn.start_tls(read_server_info=False):
            return Probe(None, f"StartTLS failed: {_result(conn)[1]}", sent=sent)
        conn.bind()
        code, text = _result(conn)
    except Exception as exc:
        return _unreachable(exc)
    finally:
        _unbind(conn)
    if code is None:
        return Probe(None, f"no result code: {text}", sent=sent, received=text)
    return Probe(code in expect, ("bind accepted" if code == SUCCESS else "bind refused") + f": {text}",
                 sent=sent, received=text)


def read_entry(target: Target, dn: str, attributes: list[str],
               judge: Callable[[Entry], tuple[bool, str]]) -> tuple[Probe, Entry | None]:
    """Read ``attributes`` of ``dn`` with the scan's account; ``judge`` says whether the entry is as expected."""
    sent = f"read {', '.join(attributes)} of {dn}"
    try:
        with LDAPConnector(target) as c:
            entry = c.search_one(dn, attributes)
    except (ConnectorError, LDAPQueryError) as exc:
        return Probe(None, f"could not read: {exc}", sent=sent), None
    if entry is None:
        return Probe(None, f"{dn} does not exist", sent=sent), None
    received = "; ".join(f"{k}={','.join(entry.texts(k))}" for k in attributes if entry.get(k)) or "(none set)"
    ok, actual = judge(entry)
    return Probe(ok, actual, sent=sent, received=received), entry


#: what a challenge reads of an access-log record (never reqMod: it carries the new password's hash)
ACCESS_LOG_ATTRIBUTES = ["reqStart", "reqType", "reqResult", "reqMessage", "reqAuthzID"]
ACCESS_LOG_BASE = "cn=accesslog"


def access_log(target: Target, dn: str, since: str) -> tuple[Probe, tuple[Entry, ...] | None]:
    """The OpenLDAP accesslog overlay's modify records for ``dn`` from ``since`` (generalized time) on, read with
    the scan's account. ``ok`` when the log could be read; the caller judges the records."""
    from ldap3.utils.conv import escape_filter_chars

    search = f"(&(objectClass=auditModify)(reqDN={escape_filter_chars(dn)})(reqStart>={since}))"
    sent = f"search {search} under {ACCESS_LOG_BASE} for {', '.join(ACCESS_LOG_ATTRIBUTES)}"
    try:
        with LDAPConnector(target) as c:
            entries = tuple(c.search(ACCESS_LOG_BASE, search, ACCESS_LOG_ATTRIBUTES))
    except (ConnectorError, LDAPQueryError) as exc:
        return Probe(None, f"could not read the access log: {exc}", sent=sent), None
    received = "\n".join(f"{e.text('reqStart')} {e.text('reqType')} result={e.text('reqResult')} "
                          f"by={e.text('reqAuthzID')} {(e.text('reqMessage') or '')[:200]}" for e in entries)
    return Probe(True, f"{len(entries)} modify records", sent=sent, received=received), entries


def _writer(target: Target) -> tuple[LDAPConnector, Any]:
    c = LDAPConnector(target)
    c.read_only = False
    return c, c._open()


def modify(target: Target, dn: str, changes: dict[str, list[tuple[str, list[Any]]]], describe: str, *,
           tolerate: frozenset[int] = frozenset()) -> Probe:
    """One modify of ``dn`` with the scan's account (a clean-up: unlock, reset). ``ok`` on success or on a
    result code in ``tolerate`` (e.g. noSuchAttribute: there was nothing to remove). ``describe`` is what the
    record shows as sent (never a value that is a password)."""
    try:
        c, conn = _writer(target)
    except ConnectorError as exc:
        return Probe(None, f"could not bind with the scan's account: {exc}", sent=describe)
    try:
        conn.modify(dn, changes)
        code, text = _result(conn)
    except Exception as exc:
        return _unreachable(exc)
    finally:
        _unbind(conn)
    ok = code == SUCCESS or code in tolerate
    return Probe(ok, ("done" if ok else "refused") + f": {text}", sent=describe, received=text)


def _ad_password(value: str) -> bytes:
    return f'"{value}"'.encode("utf-16-le")


def change_own_password(target: Target, flavor: Flavor, dn: str, old: str, new: str, describe: str) -> Probe:
    """The account ``dn`` changes its own password from ``old`` to ``new`` (OpenLDAP: the Password Modify
    extended operation; AD: delete the old unicodePwd and add the new one). ``ok`` when the directory refuses
    the change; None when the account could not bind to try. ``describe`` says what the new password is like."""
    import ldap3

    c = LDAPConnector(target)
    c.read_only = False
    sent = f"as {dn} over {_transport(c)}: change own password to {describe} (passwords not recorded)"
    if refused := _no_cleartext_password(c, sent):
        return refused
    conn = c._connection(c._server(), user=dn, password=old, authentication=ldap3.SIMPLE)
    try:
        conn.open(read_server_info=False)
        if c.settings.starttls and not conn.start_tls(read_server_info=False):
            return Probe(None, f"StartTLS failed: {_result(conn)[1]}", sent=sent)
        if not conn.bind():
            return Probe(None, f"the test account could not bind to try: {_result(conn)[1]}", sent=sent)
        if flavor is Flavor.AD:
            conn.modify(dn, {"unicodePwd": [(ldap3.MODIFY_DELETE, [_ad_password(old)]),
                                            (ldap3.MODIFY_ADD, [_ad_password(new)])]})
        else:
            conn.extend.standard.modify_password(old_password=old, new_password=new)
        code, text = _result(conn)
    except Exception as exc:
        return _unreachable(exc)
    finally:
        _unbind(conn)
    text = text.replace(old, "***").replace(new, "***") if old and new else text
    if code == SUCCESS:
        return Probe(False, f"the change was accepted: {text}", sent=sent, received=text)
    if code in CHANGE_REFUSALS:
        return Probe(True, f"refused: {text}", sent=sent, received=text)
    return Probe(None, f"unexpected answer: {text}", sent=sent, received=text)


def reset_password(target: Target, flavor: Flavor, dn: str, password: str) -> Probe:
    """The scan's account sets ``dn``'s password (a clean-up after an accepted change)."""
    import ldap3

    describe = f"as the scan's account: set the password of {dn} back to the original (not recorded)"
    if flavor is Flavor.AD:
        return modify(target, dn, {"unicodePwd": [(ldap3.MODIFY_REPLACE, [_ad_password(password)])]}, describe)
    try:
        c, conn = _writer(target)
    except ConnectorError as exc:
        return Probe(None, f"could not bind with the scan's account: {exc}", sent=describe)
    try:
        conn.extend.standard.modify_password(user=dn, new_password=password)
        code, text = _result(conn)
    except Exception as exc:
        return _unreachable(exc)
    finally:
        _unbind(conn)
    return Probe(code == SUCCESS, ("done" if code == SUCCESS else "refused") + f": {text}", sent=describe,
                 received=text)
