"""A real Kerberos realm for the WinRM connector's Kerberos tests: a Samba AD DC of tests/lab/sambalab.py.

The domain KRBAD.TEST is provisioned, cached and started exactly like the directory tests' domains (its own
network namespace, 10.200.<net>.2), with two accounts of its own so nothing here changes what the directory tests
see: ``gxpscan-krb`` (the scan account, a client) and ``wsman-http`` (the service account of the WS-Management
responder, which holds the SPN ``HTTP/<host>``). The service keytab is exported with
``samba-tool domain exportkeytab --principal``; so is a client keytab for ``keytab_file``.

Clients and the responder's acceptor read a krb5.conf written here for the lab realm (``KRB5_CONFIG``); the
machine's /etc/krb5.conf is never read or changed. Tickets go to a credential cache the test names (``KRB5CCNAME``).
"""
from __future__ import annotations

import hashlib
import json
import os
import secrets
import struct
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from tests.lab import sambalab
from tests.lab.slapdlab import CA, wait_port

REALM = "KRBAD.TEST"
CLIENT = "gxpscan-krb"
SERVICE_ACCOUNT = "wsman-http"
#: The responder's host name: the client asks the KDC for HTTP/<the URL's host>, and the certificate names it.
SERVICE_HOST = "localhost"
CLIENT_PASSWORD = "Krb-Client-Planted-S3cret-7d21"  # planted: no output may contain it
SERVICE_PASSWORD = "Krb-Service-Planted-S3cret-0be5"
#: no lockout: the failure tests send wrong keys on purpose
SPEC = {"policy": sambalab.domain_policy(14, True, False, 90, 1, 24, 0, 30, 30),
        "users": [{"name": CLIENT, "password": CLIENT_PASSWORD},
                  {"name": SERVICE_ACCOUNT, "password": SERVICE_PASSWORD, "uac_add": 0x10000}]}
#: the provisioned copy is cached under this name: a changed SPEC is a new name
KRB = sambalab.DomainProfile("krb-" + hashlib.sha256(json.dumps(SPEC, sort_keys=True).encode()).hexdigest()[:12],
                             REALM, SPEC)
#: keytab enctype number of aes256-cts-hmac-sha1-96 (RFC 3962)
AES256 = 18
#: msDS-SupportedEncryptionTypes: AES128 (8) and AES256 (16)
AES_ONLY = 24


@dataclass(frozen=True)
class KrbLab:
    dc: sambalab.SambaDC
    krb5_conf: Path
    service_keytab: Path  # HTTP/localhost@KRBAD.TEST: the responder's acceptor key
    client_keytab: Path  # gxpscan-krb@KRBAD.TEST
    directory: Path

    @property
    def client_principal(self) -> str:
        return f"{CLIENT}@{REALM}"

    @property
    def service_principal(self) -> str:
        return f"HTTP/{SERVICE_HOST}@{REALM}"

    def environment(self, ccache: Path) -> dict[str, str]:
        """What a client and the acceptor of this process need: the lab's krb5.conf, a private ticket cache,
        the service keytab for the acceptor (never the machine's /etc/krb5.conf or /etc/krb5.keytab)."""
        return {"KRB5_CONFIG": str(self.krb5_conf), "KRB5CCNAME": f"FILE:{ccache}",
                "KRB5_KTNAME": f"FILE:{self.service_keytab}"}

    def kinit(self, ccache: Path, password: str = CLIENT_PASSWORD) -> subprocess.CompletedProcess[str]:
        """A ticket for the client in ``ccache``, as a person gets one (the password on kinit's standard input)."""
        env = {**os.environ, **self.environment(ccache)}
        return subprocess.run(["kinit", self.client_principal], input=password + "\n", capture_output=True,
                              text=True, env=env, timeout=60)

    def wrong_keytab(self, path: Path) -> Path:
        """A keytab for the client whose key is not the client's (what a stale keytab after a password change is)."""
        write_keytab(path, CLIENT, REALM, kvno=1, enctype=AES256, key=secrets.token_bytes(32))
        return path

    def stop(self) -> None:
        self.dc.stop()


def write_keytab(path: Path, name: str, realm: str, *, kvno: int, enctype: int, key: bytes) -> None:
    """One entry in the MIT keytab file format, version 0x0502 (big-endian counted strings)."""
    def counted(data: bytes) -> bytes:
        return struct.pack(">H", len(data)) + data

    components = name.split("/")
    entry = (struct.pack(">H", len(components)) + counted(realm.encode())
             + b"".join(counted(c.encode()) for c in components)
             + struct.pack(">IIBH", 1, int(time.time()), kvno & 0xFF, enctype) + counted(key))
    path.write_bytes(b"\x05\x02" + struct.pack(">i", len(entry)) + entry)
    path.chmod(0o600)


def krb5_conf(dc_ip: str) -> str:
    return f"""\
[libdefaults]
    default_realm = {REALM}
    dns_lookup_kdc = false
    dns_lookup_realm = false
    dns_canonicalize_hostname = false
    rdns = false
    udp_preference_limit = 1

[realms]
    {REALM} = {{
        kdc = {dc_ip}:88
    }}

[domain_realm]
    {SERVICE_HOST} = {REALM}
"""


def _samba_tool(dc: sambalab.SambaDC, *args: str) -> None:
    sambalab._run(["samba-tool", *args, "-s", str(dc.directory / "etc" / "smb.conf")], timeout=120)


def available() -> str | None:
    reason = sambalab.available()
    if reason:
        return reason
    for tool in ("/usr/bin/kinit", "/usr/bin/klist"):
        if not os.path.exists(tool):
            return f"{tool} is not installed (krb5-user, scripts/install-deps.sh)"
    return None


def start(root: Path, ca: CA | None = None) -> KrbLab:
    """Provision (or copy from the cache) and start the realm's DC, with the SPN and both keytabs."""
    from tests.lab.slapdlab import make_ca

    root.mkdir(parents=True, exist_ok=True)
    dc = sambalab.SambaDC(KRB, root / "dc", sambalab.claim_net(), claimed=True)
    try:
        dc.provision(ca or make_ca(root / "ca"), cache=sambalab.cache_root())
        _samba_tool(dc, "spn", "add", f"HTTP/{SERVICE_HOST}", SERVICE_ACCOUNT)
        # AES service tickets, as a current Windows domain issues them (without it the KDC picks RC4)
        ldif = (f"dn: CN={SERVICE_ACCOUNT},CN=Users,{KRB.base_dn}\nchangetype: modify\n"
                f"replace: msDS-SupportedEncryptionTypes\nmsDS-SupportedEncryptionTypes: {AES_ONLY}\n")
        sambalab._run(["ldbmodify", "-H", str(dc.directory / "private" / "sam.ldb")], input=ldif, timeout=120)
        service_keytab, client_keytab = root / "http.keytab", root / "client.keytab"
        for keytab, principal in ((service_keytab, f"HTTP/{SERVICE_HOST}@{REALM}"), (client_keytab, CLIENT)):
            keytab.unlink(missing_ok=True)
            _samba_tool(dc, "domain", "exportkeytab", str(keytab), f"--principal={principal}")
            keytab.chmod(0o600)
        conf = root / "krb5.conf"
        conf.write_text(krb5_conf(dc.ip))
        dc.start()
        if not wait_port(dc.ip, 88, 30):
            raise RuntimeError(f"the KDC of {REALM} did not listen on {dc.ip}:88")
    except Exception:
        dc.stop()
        raise
    return KrbLab(dc, conf, service_keytab, client_keytab, root)
