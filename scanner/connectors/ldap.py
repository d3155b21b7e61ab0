"""LDAP transport (ldap3, imported lazily): verified TLS, bind, root DSE, paged searches, read-only probes.

Trust rules: ``ldaps://`` or ``ldap://`` + ``starttls: true`` with the certificate validated against
``ca_file`` or the system store. A simple bind without TLS is refused here unless the target says
``allow_plaintext: true``. Errors never contain the bind password.
"""
from __future__ import annotations

import errno
import importlib.util
import os
import socket
import ssl
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

from scanner.connectors import ConnectorError
from scanner.model import Target

#: supportedCapabilities value that only Active Directory (and Samba AD) announce.
AD_CAPABILITY_OID = "1.2.840.113556.1.4.800"
PAGED_RESULTS_OID = "1.2.840.113556.1.4.319"
DEFAULT_TIMEOUT = 30.0
PAGE_SIZE = 1000
#: how many continuation reference URIs an error message names (a hostile server may send any number)
REFERENCES_SHOWN = 10
#: result codes a probe treats as "the server refused": the value is the reason in words.
REFUSAL_CODES = {
    1: "operationsError",
    8: "strongerAuthRequired",
    13: "confidentialityRequired",
    48: "inappropriateAuthentication",
    50: "insufficientAccessRights",
    53: "unwillingToPerform",
}


class LDAPQueryError(ConnectorError):
    """A search did not complete: limit hit, timeout, refused. The caller never gets a short list."""


@dataclass(frozen=True)
class Entry:
    """One search result: its DN and the raw attribute values (bytes), keyed by lower-case name."""

    dn: str
    attrs: dict[str, list[bytes]]

    def get(self, name: str) -> list[bytes]:
        return self.attrs.get(name.lower(), [])

    def text(self, name: str) -> str | None:
        vals = self.get(name)
        return vals[0].decode("utf-8", "replace") if vals else None

    def texts(self, name: str) -> tuple[str, ...]:
        return tuple(v.decode("utf-8", "replace") for v in self.get(name))

    def integer(self, name: str) -> int | None:
        val = self.text(name)
        return int(val) if val not in (None, "") else None


@dataclass(frozen=True)
class ProbeResult:
    """What a bind-and-read probe saw. ``refused`` is True when the server said no."""

    url: str
    reachable: bool
    refused: bool
    result: str
    detail: str = ""
    entries_visible: int = 0


@dataclass(frozen=True)
class Settings:
    url: str
    host: str
    port: int
    use_ssl: bool
    starttls: bool
    bind_dn: str | None
    password_env: str | None
    ca_file: str | None
    allow_plaintext: bool
    flavor: str | None
    base_dn: str | None
    sasl: str | None
    timeout: float

    @property
    def tls_mode(self) -> str:
        return "ldaps" if self.use_ssl else "starttls" if self.starttls else "none"

    @classmethod
    def of(cls, target: Target) -> Settings:
        url = str(target.opt("url") or "")
        parts = urlsplit(url)
        if parts.scheme not in ("ldap", "ldaps") or not parts.hostname:
            raise ConnectorError(f"target {target.name}: url must be ldaps://host[:port] or ldap://host[:port], "
                                 f"got {url!r}")
        use_ssl = parts.scheme == "ldaps"
        return cls(
            url=url, host=parts.hostname, port=parts.port or (636 if use_ssl else 389), use_ssl=use_ssl,
            starttls=bool(target.opt("starttls", False)) and not use_ssl,
            bind_dn=target.opt("bind_dn"), password_env=target.opt("password_env"),
            ca_file=target.opt("ca_file"), allow_plaintext=bool(target.opt("allow_plaintext", False)),
            flavor=target.opt("flavor"), base_dn=target.opt("base_dn"), sasl=target.opt("sasl"),
            timeout=float(target.opt("timeout", DEFAULT_TIMEOUT)),
        )


def detect_flavor(root_dse: Entry) -> str | None:
    """``ad`` when the root DSE announces the Active Directory capability, ``openldap`` for OpenLDAP."""
    if AD_CAPABILITY_OID in root_dse.texts("supportedCapabilities"):
        return "ad"
    classes = {c.lower() for c in root_dse.texts("objectClass")}
    if "openldaprootdse" in classes or root_dse.text("configContext") == "cn=config":
        return "openldap"
    return None


class LDAPConnector:
    """One bound LDAP connection per target; probes open their own short-lived connections."""

    def __init__(self, target: Target):
        self.target = target
        self.settings = Settings.of(target)
        self._conn: Any = None
        self.root_dse: Entry | None = None
        self.flavor: str | None = None
        self.flavor_source = ""
        self.base_dn: str | None = None
        self.bound_as = ""
        #: continuation references of the last search that name this server's other naming contexts (not followed)
        self.ignored_references: tuple[str, ...] = ()
        #: False only for a challenge's clean-up connection (scanner/probes/ldap.py), which must write
        self.read_only = True

    # -- connection -------------------------------------------------------------------------------
    def _password(self) -> str:
        env = self.settings.password_env
        if not env:
            raise ConnectorError(f"target {self.target.name}: bind_dn is set but password_env is not")
        value = os.environ.get(env)
        if value is None:
            raise ConnectorError(f"target {self.target.name}: environment variable {env} (password_env) is not set")
        return value

    def _scrub(self, text: str) -> str:
        """Belt and braces: no library message may carry the password out of here."""
        env = self.settings.password_env
        secret = os.environ.get(env) if env else None
        return text.replace(secret, "***") if secret else text

    def _fail(self, what: str, exc: BaseException) -> ConnectorError:
        return ConnectorError(self._scrub(f"target {self.target.name} ({self.settings.url}): {what}: "
                                          f"{type(exc).__name__}: {exc}"))

    def _server(self, *, use_ssl: bool | None = None, port: int | None = None) -> Any:
        import ldap3

        s = self.settings
        return ldap3.Server(s.host, port=port or s.port, use_ssl=s.use_ssl if use_ssl is None else use_ssl,
                            tls=verified_tls(s.host, s.ca_file), get_info=ldap3.NONE, connect_timeout=s.timeout)

    def _connection(self, server: Any, **kwargs: Any) -> Any:
        """A connection that never follows referrals: ldap3 would bind to the referred host with the same
        password, over a TLS it sets up itself (no ``verified_tls``) or none at all for an ``ldap://`` URL.
        A referral is a search that did not complete (``LDAPQueryError``)."""
        import ldap3

        return ldap3.Connection(server, auto_bind=ldap3.AUTO_BIND_NONE,
                                receive_timeout=max(1, int(self.settings.timeout)), raise_exceptions=False,
                                read_only=self.read_only, check_names=False, auto_range=False, auto_referrals=False,
                                return_empty_attributes=False, **kwargs)

    def _open(self) -> Any:
        import ldap3

        s = self.settings
        if s.ca_file and not os.path.isfile(s.ca_file):
            raise ConnectorError(f"target {self.target.name}: ca_file {s.ca_file} does not exist")
        if s.sasl == "gssapi":
            if importlib.util.find_spec("gssapi") is None:
                raise ConnectorError(f"target {self.target.name}: sasl: gssapi needs the Python package 'gssapi', "
                                     "which is not installed (pip install gssapi)")
            kwargs: dict[str, Any] = {"authentication": ldap3.SASL, "sasl_mechanism": ldap3.KERBEROS}
            self.bound_as = "SASL/GSSAPI (Kerberos ticket)"
        elif s.bind_dn:
            if s.tls_mode == "none" and not s.allow_plaintext:
                raise ConnectorError(
                    f"target {self.target.name}: refusing a simple bind without TLS to {s.url}; use ldaps://, "
                    "starttls: true, or set allow_plaintext: true to accept a cleartext password on the wire")
            kwargs = {"user": s.bind_dn, "password": self._password(), "authentication": ldap3.SIMPLE}
            self.bound_as = s.bind_dn
        else:
            kwargs = {"authentication": ldap3.ANONYMOUS}
            self.bound_as = "anonymous"
        conn = self._connection(self._server(), **kwargs)
        try:
            conn.open(read_server_info=False)
            if conn.closed:
                raise ConnectorError(f"target {self.target.name}: cannot connect to {s.url}")
            if s.starttls and not conn.start_tls(read_server_info=False):
                raise ConnectorError(self._scrub(f"target {self.target.name}: StartTLS with {s.url} failed: "
                                                 f"{conn.result.get('description')} {conn.result.get('message')}"))
            if not conn.bind():
                res = conn.result or {}
                raise ConnectorError(self._scrub(
                    f"target {self.target.name}: bind as {self.bound_as} to {s.url} failed: "
                    f"{res.get('description', 'unknown')} ({res.get('result')}) {res.get('message', '')}".rstrip()))
        except ConnectorError:
            _unbind(conn)
            raise
        except Exception as exc:  # ldap3 raises many socket/TLS exception types; all mean "not connected"
            _unbind(conn)
            refusal = getattr(conn.server.tls, "refusal", None)
            if refusal:
                trusted = f"ca_file {s.ca_file}" if s.ca_file else "the system trust store"
                raise ConnectorError(self._scrub(
                    f"target {self.target.name} ({s.url}): TLS certificate refused before any credential was sent: "
                    f"certificate verify failed: {refusal} (host {s.host!r}, trusted CAs: {trusted})")) from None
            raise self._fail("connection failed", exc) from None
        _raw_entries(conn.strategy)
        return conn

    def __enter__(self) -> LDAPConnector:
        import ldap3

        self._conn = self._open()
        try:
            found = self.search("", "(objectClass=*)", ["*", "+"], scope=ldap3.BASE, paged=False)
        except LDAPQueryError:
            self.close()
            raise
        self.root_dse = found[0] if found else Entry("", {})
        detected = detect_flavor(self.root_dse)
        self.flavor = self.settings.flavor or detected
        self.flavor_source = "inventory" if self.settings.flavor else "root DSE" if detected else "unknown"
        self.base_dn = self.settings.base_dn or self._default_base()
        return self

    def _default_base(self) -> str | None:
        assert self.root_dse is not None
        default = self.root_dse.text("defaultNamingContext")
        if default:
            return default
        contexts = [c for c in self.root_dse.texts("namingContexts") if c.lower() != "cn=config"]
        return contexts[0] if contexts else None

    def close(self) -> None:
        if self._conn is not None:
            _unbind(self._conn)
            self._conn = None

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # -- searching --------------------------------------------------------------------------------
    def search(self, base: str, search_filter: str, attributes: list[str], *, scope: Any = None,
               paged: bool = True) -> list[Entry]:
        """All entries matching, paged; raises LDAPQueryError rather than return a partial list."""
        import ldap3

        if self._conn is None:
            raise LDAPQueryError("not connected")
        scope = ldap3.SUBTREE if scope is None else scope
        self.ignored_references = ()
        entries: list[Entry] = []
        ignored: list[str] = []
        cookie: bytes | None = None
        while True:
            kwargs: dict[str, Any] = {}
            if paged:
                kwargs.update(paged_size=PAGE_SIZE, paged_cookie=cookie)
            try:
                self._conn.search(base, search_filter, search_scope=scope, attributes=attributes,
                                  time_limit=int(self.settings.timeout), **kwargs)
            except Exception as exc:
                raise LDAPQueryError(self._scrub(f"search {search_filter} under {base!r} failed: "
                                                 f"{type(exc).__name__}: {exc}")) from None
            result = self._conn.result or {}
            code = result.get("result")
            if code != 0:
                raise LDAPQueryError(
                    f"search {search_filter} under {base!r} did not complete: {result.get('description')} "
                    f"({code}) {result.get('message', '')}".rstrip())
            response = self._conn.response or ()
            entries += [Entry(item["dn"], item["raw_attributes"]) for item in response
                        if item.get("type") == "searchResEntry"]
            ignored += self._continuations(base, search_filter,
                                           [item for item in response if item.get("type") == "searchResRef"])
            cookie = (result.get("controls") or {}).get(PAGED_RESULTS_OID, {}).get("value", {}).get("cookie")
            if not paged or not cookie:
                self.ignored_references = tuple(dict.fromkeys(ignored))
                return entries

    def _continuations(self, base: str, search_filter: str, refs: list[dict[str, Any]]) -> list[str]:
        """The URIs of continuation references that may be left out; raises for any other reference.

        A searchResRef says part of the answer is held elsewhere, and referrals are never followed, so the
        answer would be short: that is an error, naming the URIs. The one exception is a reference to
        another naming context of this same server (its root DSE ``namingContexts``), such as Active
        Directory's Configuration, DomainDnsZones and ForestDnsZones partitions below the domain root:
        every URI of the reference must name such a context, and not the context being searched.
        """
        contexts = {_dn_key(c) for c in self.root_dse.texts("namingContexts")} if self.root_dse else set()
        searched = _dn_key(base)
        ignored: list[str] = []
        unexpected: list[str] = []
        for ref in refs:
            uris = [str(u) for u in ref.get("uri") or ()]
            dns = [_reference_dn(u) for u in uris]
            own = bool(uris) and all(dn is not None and dn in contexts and not _within(searched, dn) for dn in dns)
            (ignored if own else unexpected).extend(uris or ["(a reference with no URI)"])
        if unexpected:
            shown = ", ".join(repr(u[:200]) for u in unexpected[:REFERENCES_SHOWN])
            more = f" and {len(unexpected) - REFERENCES_SHOWN} more" if len(unexpected) > REFERENCES_SHOWN else ""
            raise LDAPQueryError(
                f"search {search_filter} under {base!r} did not complete: the server returned continuation "
                f"references to parts of the tree held elsewhere, which are not followed: {shown}{more}")
        return ignored

    def search_one(self, base: str, attributes: list[str]) -> Entry | None:
        """The entry at ``base`` itself, or None when it does not exist."""
        import ldap3

        try:
            found = self.search(base, "(objectClass=*)", attributes, scope=ldap3.BASE, paged=False)
        except LDAPQueryError as exc:
            if "noSuchObject" in str(exc):
                return None
            raise
        return found[0] if found else None

    # -- probes: bind and read only, each on its own connection ------------------------------------
    def probe_anonymous(self) -> ProbeResult:
        """Anonymous bind, then a one-entry search under the base DN. Refused bind or search: ``refused``."""
        import ldap3

        conn = self._connection(self._server(), authentication=ldap3.ANONYMOUS)
        url = self.settings.url
        try:
            conn.open(read_server_info=False)
            if self.settings.starttls and not conn.start_tls(read_server_info=False):
                return ProbeResult(url, True, False, "starttls failed", str(conn.result))
            if not conn.bind():
                return ProbeResult(url, True, True, "bind refused", _describe(conn.result))
            conn.search(self.base_dn or "", "(objectClass=*)", search_scope=ldap3.SUBTREE, attributes=["1.1"],
                        size_limit=5, time_limit=int(self.settings.timeout))
            res = conn.result or {}
            visible = sum(1 for r in conn.response or () if r.get("type") == "searchResEntry")
            code = res.get("result")
            if visible == 0 and code in REFUSAL_CODES:
                return ProbeResult(url, True, True, "search refused", _describe(res))
            if visible == 0 and code in (0, 32):
                return ProbeResult(url, True, True, "search returned nothing", _describe(res))
            return ProbeResult(url, True, False, "anonymous search answered", _describe(res), visible)
        except Exception as exc:
            return ProbeResult(url, False, False, "unreachable", f"{type(exc).__name__}: {exc}")
        finally:
            _unbind(conn)

    def plaintext_url(self) -> tuple[str, int]:
        """Where a cleartext simple bind would go: the same port for StartTLS targets, else port 389."""
        s = self.settings
        port = s.port if not s.use_ssl else 389
        return f"ldap://{s.host}:{port}", port

    def probe_dn(self) -> str:
        return f"cn=gxpscan-tls-probe,{self.base_dn}" if self.base_dn else "cn=gxpscan-tls-probe"

    def probe_plaintext_bind(self) -> ProbeResult:
        """Simple bind without TLS as a DN that does not exist, with a made-up password.

        No real password is ever sent in cleartext, and no real account collects a failed logon (a probe
        as the scan account would count towards its lockout on every scan). A server that requires TLS
        answers confidentialityRequired / strongerAuthRequired before looking at the credentials; a server
        that answers invalidCredentials evaluated a cleartext bind, so it accepts plaintext binds.
        """
        import ldap3

        url, port = self.plaintext_url()
        unreachable = tcp_unreachable(self.settings.host, port, self.settings.timeout)
        if unreachable is not None:
            return unreachable.at(url)
        dn = self.probe_dn()
        conn = self._connection(self._server(use_ssl=False, port=port), user=dn,
                                password="gxpscan-probe-not-a-password", authentication=ldap3.SIMPLE)
        try:
            conn.open(read_server_info=False)
            conn.bind()
            res = conn.result or {}
            code = res.get("result")
            if code in REFUSAL_CODES:
                return ProbeResult(url, True, True, "cleartext bind refused", _describe(res))
            return ProbeResult(url, True, False, "cleartext bind evaluated", _describe(res))
        except Exception as exc:
            return ProbeResult(url, True, False, "probe failed", f"{type(exc).__name__}: {exc}")
        finally:
            _unbind(conn)


@dataclass(frozen=True)
class NoListener:
    """Why a TCP connection to a port could not be made, and whether that proves nothing listens there."""

    refused: bool
    detail: str

    def at(self, url: str) -> ProbeResult:
        if self.refused:
            return ProbeResult(url, False, True, "no cleartext listener", self.detail)
        return ProbeResult(url, False, False, "probe failed", f"could not determine whether a cleartext listener "
                           f"answers: {self.detail}")


def tcp_unreachable(host: str, port: int, timeout: float) -> NoListener | None:
    """None when a TCP connection to ``host:port`` opens (it is closed again at once), else why not.

    Only a refused connection (a reset answering the SYN, ECONNREFUSED) on every address of the host shows
    that nothing listens; a timeout (a filtering firewall), an unreachable network or a name that does not
    resolve shows nothing about the port: ``refused`` is then False.
    """
    try:
        addresses = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        return NoListener(False, f"{host!r} does not resolve: {type(exc).__name__}: {exc}")
    failures: list[str] = []
    refused = True
    for family, kind, proto, _, address in addresses:
        try:
            with socket.socket(family, kind, proto) as sock:
                sock.settimeout(timeout)
                sock.connect(address)
            return None
        except OSError as exc:
            is_refusal = isinstance(exc, ConnectionRefusedError) or exc.errno == errno.ECONNREFUSED
            refused = refused and is_refusal
            what = "timed out" if isinstance(exc, TimeoutError) else f"{type(exc).__name__}: {exc}"
            failures.append(f"{address[0]} port {port}: {what}")
    return NoListener(refused and bool(failures), "; ".join(failures) or f"{host!r} has no address")


def tls_context(ca_file: str | None) -> ssl.SSLContext:
    """The client TLS context for a directory: the standard library's verification, nothing of our own.

    The certificate must chain to ``ca_file`` (or, without one, to the system store) and name the host
    (``check_hostname``: IP addresses against IP SANs, DNS names against DNS SANs, one left-most wildcard
    label; OpenSSL does the matching). ``create_default_context`` sets both already; they are set again
    here so that no later default can quietly drop them.
    """
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=ca_file)
    context.verify_mode = ssl.CERT_REQUIRED
    context.check_hostname = True
    return context


def verified_tls(host: str, ca_file: str | None) -> Any:
    """An ``ldap3.Tls`` whose handshake is done and verified by the standard library for ``host``.

    ldap3 2.9.1 turns ``check_hostname`` off and matches names itself afterwards with ``ssl.match_hostname``,
    or, from Python 3.12 on where that function is gone, with its own copy, which refuses IP addresses and
    accepts an IP address written as a DNS name. Here the socket is wrapped with ``server_hostname=host``
    and the handshake happens at once, so a certificate that does not verify ends the connection before
    any LDAP message (a bind, a password) is sent, for ``ldaps://`` and StartTLS alike.
    """
    import ldap3

    context = tls_context(ca_file)

    class VerifiedTls(ldap3.Tls):  # type: ignore[misc]  # ldap3 has no type information
        #: why the standard library refused the server's certificate, for a clear message
        refusal: str | None = None

        def wrap_socket(self, connection: Any, do_handshake: bool = False) -> None:
            try:
                connection.socket = context.wrap_socket(connection.socket, server_side=False,
                                                        do_handshake_on_connect=True, server_hostname=host)
            except ssl.SSLCertVerificationError as exc:
                self.refusal = str(exc.verify_message or exc.reason or exc).rstrip(".")
                raise

    return VerifiedTls(validate=ssl.CERT_REQUIRED, ca_certs_file=ca_file)


def _raw_entries(strategy: Any) -> None:
    """Decode this connection's search entries straight to ``dn`` + {lower-case name: [raw bytes]}.

    ldap3 would also build a formatted, case-insensitive copy of every value, which gxpscan never reads;
    on 10,000 users that copy is most of the client's decoding time. Other responses decode as before.
    Range-tagged values (``member;range=0-1499``) are kept as returned (auto_range is off) and followed
    by the collector.
    """
    decode = strategy.decode_response_fast

    def fast(message: dict[str, Any]) -> dict[str, Any]:
        if message["protocolOp"] != 4:  # not a searchResEntry
            decoded: dict[str, Any] = decode(message)
            return decoded
        payload = message["payload"]
        attrs: dict[str, list[bytes]] = {}
        for attr in payload[1][3]:
            attrs.setdefault(attr[3][0][3].decode("utf-8", "replace").lower(), []).extend(v[3] for v in attr[3][1][3])
        return {"type": "searchResEntry", "dn": payload[0][3].decode("utf-8", "replace"), "raw_attributes": attrs}

    strategy.decode_response_fast = fast


def _dn_key(dn: str) -> str:
    """A DN compared without case or the spaces around separators (enough for naming contexts)."""
    return ",".join("=".join(p.strip() for p in rdn.split("=", 1)) for rdn in dn.lower().split(","))


def _reference_dn(uri: str) -> str | None:
    """The DN an ``ldap://`` or ``ldaps://`` continuation reference names, or None when it names none."""
    try:
        parts = urlsplit(uri)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("ldap", "ldaps"):
        return None
    dn = unquote(parts.path.lstrip("/"))
    return _dn_key(dn) if dn else None


def _within(dn: str, ancestor: str) -> bool:
    """``dn`` is ``ancestor`` or below it (both already keys)."""
    return dn == ancestor or dn.endswith("," + ancestor)


def _unbind(conn: Any) -> None:
    """Close quietly: after a TLS or socket failure the socket may already be gone."""
    try:
        conn.unbind()
    except Exception:  # nothing left to close
        pass


def _describe(result: dict[str, Any] | None) -> str:
    res = result or {}
    return f"{res.get('description')} ({res.get('result')}) {res.get('message', '')}".strip()
