"""Real OpenLDAP servers for the directory tests, plus the test CA shared with the Samba lab.

``good`` is configured as a regulated site would want it (TLS required for simple binds, no anonymous
access, strict default password policy with lockout, salted hashes, auditlog overlay); ``weak`` is
the opposite on every point the ``ldap.*`` checks look at.
"""
from __future__ import annotations

import base64
import hashlib
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

SLAPD = "/usr/sbin/slapd"
SLAPADD = "/usr/sbin/slapadd"
SCHEMAS = ("core", "cosine", "inetorgperson", "nis")
ADMIN_PASSWORD = "Lab-Admin-S3cret-7f2a"  # planted: the tests prove it appears in no output


@dataclass(frozen=True)
class CA:
    cert: Path
    key: Path


@dataclass(frozen=True)
class ServerCert:
    cert: Path
    key: Path


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def make_ca(directory: Path, name: str = "gxpscan test CA") -> CA:
    directory.mkdir(parents=True, exist_ok=True)
    ca = CA(directory / "ca.pem", directory / "ca.key")
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(ca.key), "-out", str(ca.cert),
             "-days", "2", "-subj", f"/CN={name}", "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=directory)
    return ca


def issue_cert(ca: CA, directory: Path, name: str, dns: tuple[str, ...], ips: tuple[str, ...]) -> ServerCert:
    directory.mkdir(parents=True, exist_ok=True)
    out = ServerCert(directory / f"{name}.pem", directory / f"{name}.key")
    csr = directory / f"{name}.csr"
    ext = directory / f"{name}.ext"
    san = ",".join([f"DNS:{d}" for d in dns] + [f"IP:{i}" for i in ips])
    ext.write_text(f"subjectAltName={san}\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n")
    _openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", str(out.key), "-out", str(csr),
             "-subj", f"/CN={dns[0] if dns else ips[0]}", cwd=directory)
    _openssl("x509", "-req", "-in", str(csr), "-CA", str(ca.cert), "-CAkey", str(ca.key), "-CAcreateserial",
             "-out", str(out.cert), "-days", "2", "-extfile", str(ext), cwd=directory)
    os.chmod(out.key, 0o600)
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(host: str, port: int, timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.05)
    return False


def ssha(password: str, salt: bytes = b"gxlabslt") -> str:
    digest = hashlib.sha1(password.encode() + salt).digest()
    return "{SSHA}" + base64.b64encode(digest + salt).decode()


def unsalted_md5(password: str) -> str:
    return "{MD5}" + base64.b64encode(hashlib.md5(password.encode()).digest()).decode()


@dataclass(frozen=True)
class SlapdProfile:
    name: str
    suffix: str
    require_tls: bool
    allow_anonymous: bool
    audit: bool
    policy: dict[str, str]
    users: dict[str, str]  # uid -> userPassword value as stored
    extra_ldif: str = ""  # more entries, for a test that builds its own instance
    accesslog: tuple[str, ...] = ()  # accesslog overlay directives (e.g. "logops writes"); empty: no cn=accesslog


GOOD = SlapdProfile(
    name="good", suffix="dc=good,dc=test", require_tls=True, allow_anonymous=False, audit=True,
    policy={"pwdMinLength": "12", "pwdMaxAge": "7776000", "pwdMinAge": "86400", "pwdInHistory": "12",
            "pwdLockout": "TRUE", "pwdMaxFailure": "5", "pwdLockoutDuration": "1800",
            "pwdFailureCountInterval": "900", "pwdCheckQuality": "2"},
    users={"alice": ssha("Alice-Long-Passw0rd"), "bob": ssha("Bob-Long-Passw0rd!")},
)
WEAK = SlapdProfile(
    name="weak", suffix="dc=weak,dc=test", require_tls=False, allow_anonymous=True, audit=False,
    policy={"pwdMinLength": "4", "pwdMaxAge": "0", "pwdInHistory": "0", "pwdLockout": "FALSE",
            "pwdMaxFailure": "0"},
    users={"alice": ssha("alice1"), "carol": "carol-cleartext", "dave": unsalted_md5("dave")},
)


def _config(p: SlapdProfile, d: Path, cert: ServerCert, ca: CA) -> str:
    admin = f"cn=admin,{p.suffix}"
    lines = [f"include /etc/ldap/schema/{s}.schema" for s in SCHEMAS]
    lines += [
        "modulepath /usr/lib/ldap", "moduleload back_mdb", "moduleload ppolicy",
        *(["moduleload auditlog"] if p.audit else []), *(["moduleload accesslog"] if p.accesslog else []),
        f"pidfile {d}/slapd.pid", f"argsfile {d}/slapd.args",
        f"TLSCACertificateFile {ca.cert}", f"TLSCertificateFile {cert.cert}", f"TLSCertificateKeyFile {cert.key}",
        "password-hash {SSHA}",
        *(["security simple_bind=64"] if p.require_tls else []),
        *([] if p.allow_anonymous else ["disallow bind_anon", "require authc"]),
        "database config", f'access to * by dn.exact="{admin}" read by * none',
        *(["database mdb", "suffix cn=accesslog", f"directory {d}/accesslog",
           f'access to * by dn.exact="{admin}" read by * none'] if p.accesslog else []),
        "database mdb", f"suffix {p.suffix}", f"rootdn {admin}", f"rootpw {ssha(ADMIN_PASSWORD)}",
        f"directory {d}/data", "maxsize 104857600",
        # the weak instance caps anonymous searches at 2 entries: the size-limit test needs a limit to hit
        *([] if p.require_tls else ["limits anonymous size=2"]),
        "overlay ppolicy", f'ppolicy_default "cn=default,ou=policies,{p.suffix}"', "ppolicy_use_lockout",
        *(["overlay auditlog", f"auditlog {d}/audit.ldif"] if p.audit else []),
        *(["overlay accesslog", "logdb cn=accesslog", *p.accesslog] if p.accesslog else []),
        "access to attrs=userPassword by self write by anonymous auth by * none",
        "access to * by users read by * " + ("read" if p.allow_anonymous else "none"),
    ]
    return "\n".join(lines) + "\n"


def _seed(p: SlapdProfile) -> str:
    dc = p.suffix.split(",")[0].split("=")[1]
    parts = [
        f"dn: {p.suffix}\nobjectClass: dcObject\nobjectClass: organization\no: {dc}\ndc: {dc}\n",
        f"dn: ou=policies,{p.suffix}\nobjectClass: organizationalUnit\nou: policies\n",
        f"dn: ou=people,{p.suffix}\nobjectClass: organizationalUnit\nou: people\n",
        f"dn: cn=default,ou=policies,{p.suffix}\nobjectClass: device\nobjectClass: pwdPolicy\ncn: default\n"
        "pwdAttribute: userPassword\n" + "".join(f"{k}: {v}\n" for k, v in p.policy.items()),
    ]
    for uid, pw in p.users.items():
        parts.append(f"dn: uid={uid},ou=people,{p.suffix}\nobjectClass: inetOrgPerson\nuid: {uid}\ncn: {uid}\n"
                     f"sn: {uid}\nuserPassword: {pw}\n")
    if p.extra_ldif:
        parts.append(p.extra_ldif)
    return "\n".join(parts)


@dataclass
class Slapd:
    profile: SlapdProfile
    directory: Path
    ldap_port: int
    ldaps_port: int
    proc: subprocess.Popen | None = None

    @property
    def admin_dn(self) -> str:
        return f"cn=admin,{self.profile.suffix}"

    @property
    def ldap_url(self) -> str:
        return f"ldap://127.0.0.1:{self.ldap_port}"

    @property
    def ldaps_url(self) -> str:
        return f"ldaps://127.0.0.1:{self.ldaps_port}"

    def start(self) -> None:
        conf = self.directory / "slapd.conf"
        self.proc = subprocess.Popen(
            [SLAPD, "-f", str(conf), "-h", f"{self.ldap_url}/ {self.ldaps_url}/", "-d", "0"],
            stdout=(self.directory / "slapd.out").open("wb"), stderr=subprocess.STDOUT)
        if not (wait_port("127.0.0.1", self.ldap_port) and wait_port("127.0.0.1", self.ldaps_port)):
            out = (self.directory / "slapd.out").read_text(errors="replace")
            self.stop()
            raise RuntimeError(f"slapd {self.profile.name} did not start: {out[-2000:]}")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None


def build(profile: SlapdProfile, root: Path, ca: CA, cert: ServerCert) -> Slapd:
    d = root / f"slapd-{profile.name}"
    shutil.rmtree(d, ignore_errors=True)
    (d / "data").mkdir(parents=True)
    (d / "accesslog").mkdir()
    (d / "slapd.conf").write_text(_config(profile, d, cert, ca))
    (d / "seed.ldif").write_text(_seed(profile))
    subprocess.run([SLAPADD, "-f", str(d / "slapd.conf"), "-b", profile.suffix, "-l", str(d / "seed.ldif")], check=True,
                   capture_output=True, timeout=60)
    return Slapd(profile, d, free_port(), free_port())


@contextmanager
def good_with(ca: CA, root: Path, name: str, extra_ldif: str, accesslog: tuple[str, ...] = ()) -> Iterator[Slapd]:
    """One more server: the compliant profile plus ``extra_ldif``, with its own port, database and certificate."""
    cert = issue_cert(ca, root / "tls", "localhost", ("localhost",), ("127.0.0.1",))
    server = build(replace(GOOD, name=name, extra_ldif=extra_ldif, accesslog=accesslog), root, ca, cert)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def available() -> str | None:
    """None when slapd can run here, else the reason."""
    for tool in (SLAPD, SLAPADD, shutil.which("openssl") or "/nonexistent/openssl"):
        if not os.path.exists(tool):
            return f"{tool} is not installed (scripts/install-deps.sh)"
    return None


PASSWORD_ENV = "GXLAB_SLAPD_PASSWORD"


@dataclass
class SlapdLab:
    """Both slapd instances and the CAs, started once per test session."""

    root: Path
    ca: CA
    wrong_ca: CA
    servers: dict[str, Slapd]

    def target(self, which: str, *, name: str | None = None, policy: dict | None = None, **options):
        from scanner.model import Platform, Target

        s = self.servers[which]
        opts = {"url": s.ldap_url, "starttls": True, "ca_file": str(self.ca.cert), "bind_dn": s.admin_dn,
                "password_env": PASSWORD_ENV, "timeout": 10, **options}
        return Target(name=name or f"slapd-{which}", type=Platform.LDAP, options=opts, policy=policy or {})

    def stop(self) -> None:
        for s in self.servers.values():
            s.stop()




def start(root: Path) -> SlapdLab:
    """Start the lab (the session fixture in tests/conftest.py calls this once)."""
    ca = make_ca(root / "ca")
    wrong = make_ca(root / "wrong-ca", "some other CA")
    cert = issue_cert(ca, root / "ca", "localhost", ("localhost",), ("127.0.0.1",))
    lab = SlapdLab(root, ca, wrong, {})
    try:
        for profile in (GOOD, WEAK):
            lab.servers[profile.name] = build(profile, root, ca, cert)
            lab.servers[profile.name].start()
    except Exception:
        lab.stop()
        raise
    os.environ[PASSWORD_ENV] = ADMIN_PASSWORD
    return lab
