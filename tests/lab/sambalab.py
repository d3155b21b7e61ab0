"""Real Samba Active Directory domain controllers for the directory tests and the benchmark.

Each domain is provisioned with samba-tool, shaped offline (the samba Python bindings on sam.ldb,
before the DC starts: policy, password settings objects, users and their flags, nested groups, an old
lastLogonTimestamp), given a certificate from the tests' CA, and started in its own network namespace
(10.200.<net>.2, reached from the host through a veth pair at 10.200.<net>.1). Each session claims a free
<net> by creating the namespace ``gxldap-<net>`` (atomic), so concurrent test sessions never share one.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.lab.slapdlab import CA, issue_cert, wait_port

SYSTEM_PYTHON = "/usr/bin/python3"  # the samba bindings live in Debian's python, not in a venv
ADMIN_PASSWORD = "Lab-Adm1n-S3cret-AD-9c4e"  # planted: tests prove it appears in no output
USER_PASSWORD = "Us3r-Passw0rd-Lab-2026!"

# Runs under /usr/bin/python3 with the samba bindings; argv: sam.ldb smb.conf spec.json
SHAPE_SCRIPT = r'''
import json, sys, time
import ldb
from samba.auth import system_session
from samba.param import LoadParm
from samba.samdb import SamDB

samldb, smbconf, specfile = sys.argv[1:4]
spec = json.load(open(specfile))
lp = LoadParm(); lp.load(smbconf)
db = SamDB(url=samldb, session_info=system_session(), lp=lp)
base = db.domain_dn()
users_dn = "CN=Users," + str(base)

def filetime(days_ago):
    return str(int((time.time() - days_ago * 86400 + 11644473600) * 10_000_000))

def modify(dn, attrs, controls=None):
    m = ldb.Message(ldb.Dn(db, dn))
    for k, v in attrs.items():
        m[k] = ldb.MessageElement([str(x) for x in (v if isinstance(v, list) else [v])], ldb.FLAG_MOD_REPLACE, k)
    db.modify(m, controls=controls or [])

modify(str(base), spec["policy"])
for g in spec.get("groups", []):
    db.newgroup(g["name"])
for u in spec.get("users", []):
    db.newuser(u["name"], u.get("password", spec["password"]))
    dn = "CN=%s,%s" % (u["name"], users_dn)
    if u.get("uac_add"):
        res = db.search(dn, scope=ldb.SCOPE_BASE, attrs=["userAccountControl"])
        modify(dn, {"userAccountControl": int(res[0]["userAccountControl"][0]) | u["uac_add"]})
    if u.get("last_logon_days_ago") is not None:
        modify(dn, {"lastLogonTimestamp": filetime(u["last_logon_days_ago"])})
    if u.get("description"):
        modify(dn, {"description": u["description"]})
for g in spec.get("groups", []) + spec.get("memberships", []):
    for parent in g.get("member_of", []):
        db.add_remove_group_members(parent, [g["name"]], add_members_operation=True)
for u in spec.get("users", []):
    for parent in u.get("member_of", []):
        db.add_remove_group_members(parent, [u["name"]], add_members_operation=True)
for u in spec.get("users", []):
    if u.get("primary_group_rid"):
        # AD then drops the user from the group's member list: membership only through primaryGroupID
        modify("CN=%s,%s" % (u["name"], users_dn), {"primaryGroupID": u["primary_group_rid"]})
container = "CN=Password Settings Container,CN=System," + str(base)
for p in spec.get("psos", []):
    applies = ["CN=%s,%s" % (t, users_dn) for t in p.pop("applies_to")]
    msg = {"dn": "CN=%s,%s" % (p.pop("name"), container), "objectClass": "msDS-PasswordSettings"}
    msg.update({k: str(v) for k, v in p.items()})
    msg["msDS-PSOAppliesTo"] = applies
    db.add(msg)
if spec.get("krbtgt_age_days"):
    # pwdLastSet is system-only (the password_hash module allows 0 or -1): write the partition file raw.
    del db
    import os
    raw = ldb.Ldb(os.path.join(samldb + ".d", str(base).upper() + ".ldb"), options=["modules:"])
    res = raw.search(None, ldb.SCOPE_SUBTREE, "(sAMAccountName=krbtgt)", ["pwdLastSet"])
    m = ldb.Message(res[0].dn)
    m["pwdLastSet"] = ldb.MessageElement(filetime(spec["krbtgt_age_days"]), ldb.FLAG_MOD_REPLACE, "pwdLastSet")
    raw.modify(m)
'''

TICKS_PER_MINUTE = 600_000_000


def interval(minutes: float) -> int:
    """AD negative interval for a duration in minutes."""
    return -int(minutes * TICKS_PER_MINUTE)


def domain_policy(min_len: int, complexity: bool, cleartext: bool, max_age_days: int, min_age_days: int,
                  history: int, lockout: int, duration_min: int, window_min: int) -> dict[str, int | str]:
    return {
        "minPwdLength": min_len, "pwdProperties": (1 if complexity else 0) | (16 if cleartext else 0),
        "maxPwdAge": interval(max_age_days * 1440) if max_age_days else -0x8000000000000000,
        "minPwdAge": interval(min_age_days * 1440), "pwdHistoryLength": history, "lockoutThreshold": lockout,
        "lockoutDuration": interval(duration_min), "lockOutObservationWindow": interval(window_min),
    }


def pso(name: str, precedence: int, min_len: int, complexity: bool, max_age_days: int, history: int, lockout: int,
        applies_to: list[str]) -> dict:
    return {
        "name": name, "applies_to": applies_to, "msDS-PasswordSettingsPrecedence": precedence,
        "msDS-MinimumPasswordLength": min_len, "msDS-PasswordComplexityEnabled": "TRUE" if complexity else "FALSE",
        "msDS-PasswordReversibleEncryptionEnabled": "FALSE", "msDS-PasswordHistoryLength": history,
        "msDS-MaximumPasswordAge": interval(max_age_days * 1440), "msDS-MinimumPasswordAge": interval(1440),
        "msDS-LockoutThreshold": lockout, "msDS-LockoutDuration": interval(30),
        "msDS-LockoutObservationWindow": interval(30),
    }


@dataclass(frozen=True)
class DomainProfile:
    name: str
    realm: str
    spec: dict = field(hash=False, compare=False)

    @property
    def netbios(self) -> str:
        return self.realm.split(".")[0].upper()

    @property
    def base_dn(self) -> str:
        return ",".join(f"DC={p}" for p in self.realm.lower().split("."))


GOOD = DomainProfile("good", "GOODAD.TEST", {
    "policy": domain_policy(14, True, False, 90, 1, 24, 5, 30, 30),
    "groups": [{"name": "Finance"}],
    "users": [
        {"name": "alice.smith", "member_of": ["Finance"]},
        {"name": "bob.jones"},
        {"name": "svc_backup", "uac_add": 0x10000, "description": "backup service account"},
    ],
    "psos": [pso("admins-strict", 1, 16, True, 60, 24, 3, ["Domain Admins"])],
})
WEAK = DomainProfile("weak", "WEAKAD.TEST", {
    "policy": domain_policy(5, False, True, 0, 0, 0, 0, 5, 5),
    "groups": [{"name": "IT Ops", "member_of": ["Domain Admins"]}, {"name": "Helpdesk"}],
    "users": [
        {"name": "alice.smith"},
        {"name": "carl.never", "uac_add": 0x10000},
        {"name": "nora.noreq", "uac_add": 0x20},
        {"name": "rita.rev", "uac_add": 0x80},
        {"name": "sam.stale", "last_logon_days_ago": 400},
        {"name": "peter.priv", "member_of": ["IT Ops"]},
        # a Domain Admin that Domain Admins' member attribute does not list
        {"name": "pam.primary", "member_of": ["Domain Admins"], "primary_group_rid": 512},
        {"name": "helen.help", "member_of": ["Helpdesk"]},
        {"name": "shared.lab"},
        {"name": "testuser1"},
    ],
    "psos": [pso("helpdesk-weak", 5, 3, False, 0, 0, 0, ["Helpdesk"])],
    "krbtgt_age_days": 400,
})


def _run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=kw.pop("timeout", 300), **kw)
    if res.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:4])}... failed ({res.returncode}): {res.stderr[-3000:]}")
    return res


def _store(directory: Path, cached: Path) -> None:
    """Copy a freshly shaped, never started domain into the cache; atomic, so concurrent sessions are safe."""
    tmp = cached.parent / f".{cached.name}.{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(directory, tmp, symlinks=True)
    (tmp / "ready").write_text("ok\n")
    try:
        os.rename(tmp, cached)
    except OSError:  # another session stored it first
        shutil.rmtree(tmp, ignore_errors=True)


def cache_root() -> Path:
    """Provisioned domains are cached under /tmp, keyed by a hash of this lab script."""
    digest = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:16]
    root = Path(tempfile.gettempdir()) / f"gxpscan-samba-lab-{digest}"
    root.mkdir(exist_ok=True)
    return root


@dataclass
class SambaDC:
    profile: DomainProfile
    directory: Path
    net: int  # 10.200.<net>.0/24, namespace gxldap-<net>
    claimed: bool = False  # the namespace was created by claim_net for this DC
    proc: subprocess.Popen | None = None

    @property
    def ns(self) -> str:
        return f"gxldap-{self.net}"

    @property
    def ip(self) -> str:
        return f"10.200.{self.net}.2"

    @property
    def host_ip(self) -> str:
        return f"10.200.{self.net}.1"

    @property
    def hostname(self) -> str:
        return f"dc1.{self.profile.realm.lower()}"

    @property
    def ldaps_url(self) -> str:
        return f"ldaps://{self.ip}:636"

    @property
    def admin_upn(self) -> str:
        return f"Administrator@{self.profile.realm}"

    @property
    def veth(self) -> str:
        return f"gxl{self.net}h"

    def provision(self, ca: CA, spec: dict | None = None, cache: Path | None = None) -> None:
        """Provision and shape the domain (or copy it from ``cache``), then give it this DC's address and cert."""
        d = self.directory
        shutil.rmtree(d, ignore_errors=True)
        cached = cache / self.profile.name if cache else None
        if cached and (cached / "ready").exists():
            shutil.copytree(cached, d, symlinks=True)
        else:
            self._provision_fresh(spec if spec is not None else self.profile.spec)
            if cached:
                _store(d, cached)
        self.configure(ca)

    def _provision_fresh(self, spec: dict) -> None:
        d = self.directory
        (d / "run").mkdir(parents=True)
        (d / "log").mkdir()
        opts = [f"--option=pid directory={d}/run", f"--option=ncalrpc dir={d}/run/ncalrpc",
                f"--option=log file={d}/log/samba.log", f"--option=winbindd socket directory={d}/run/winbindd",
                f"--option=ntp signd socket directory={d}/run/ntp"]
        _run(["samba-tool", "domain", "provision", "--configfile=/dev/null", f"--targetdir={d}",
              f"--realm={self.profile.realm}", f"--domain={self.profile.netbios}", "--server-role=dc",
              "--dns-backend=SAMBA_INTERNAL", f"--host-ip={self.ip}", "--host-name=dc1",
              f"--adminpass={ADMIN_PASSWORD}", *opts])
        conf = d / "etc" / "smb.conf"
        lines = [ln for ln in conf.read_text().splitlines() if "dns forwarder" not in ln]
        (d / "etc" / "smb.conf.provisioned").write_text("\n".join(lines) + "\n")
        (d / "provisioned-at").write_text(str(d))
        self.shape(spec)

    def configure(self, ca: CA) -> None:
        """What depends on where this copy lives and on its address: paths, interfaces, TLS certificate."""
        d = self.directory
        origin = (d / "provisioned-at").read_text()
        cert = issue_cert(ca, d / "tls", "dc1", (self.hostname,), (self.ip,))
        lines = (d / "etc" / "smb.conf.provisioned").read_text().replace(origin, str(d)).splitlines()
        at = lines.index("[global]") + 1
        lines[at:at] = ["\ttls enabled = yes", f"\ttls keyfile = {cert.key}", f"\ttls certfile = {cert.cert}",
                        f"\ttls cafile = {ca.cert}", f"\tinterfaces = lo {self.ip}", "\tbind interfaces only = yes"]
        (d / "etc" / "smb.conf").write_text("\n".join(lines) + "\n")
        (d / "resolv.conf").write_text("nameserver 127.0.0.1\n")
        (d / "hosts").write_text(f"127.0.0.1 localhost\n{self.ip} {self.hostname} dc1\n")

    def shape(self, spec: dict) -> None:
        d = self.directory
        (d / "shape.py").write_text(SHAPE_SCRIPT)
        (d / "spec.json").write_text(json.dumps({"password": USER_PASSWORD, **spec}))
        _run([SYSTEM_PYTHON, str(d / "shape.py"), str(d / "private" / "sam.ldb"),
              str(d / "etc" / "smb.conf.provisioned"), str(d / "spec.json")], timeout=1800)

    def _network(self) -> None:
        if not self.claimed:
            res = subprocess.run(["ip", "netns", "add", self.ns], capture_output=True, text=True, timeout=30)
            if res.returncode != 0:
                raise RuntimeError(f"network namespace {self.ns} is in use (another lab running?): {res.stderr}")
            self.claimed = True
        peer = f"gxl{self.net}n"
        for cmd in (["ip", "link", "add", self.veth, "type", "veth", "peer", "name", peer],
                    ["ip", "link", "set", peer, "netns", self.ns],
                    ["ip", "addr", "add", f"{self.host_ip}/24", "dev", self.veth],
                    ["ip", "link", "set", self.veth, "up"],
                    ["ip", "netns", "exec", self.ns, "ip", "addr", "add", f"{self.ip}/24", "dev", peer],
                    ["ip", "netns", "exec", self.ns, "ip", "link", "set", peer, "up"],
                    ["ip", "netns", "exec", self.ns, "ip", "link", "set", "lo", "up"]):
            _run(cmd, timeout=30)

    def _teardown_network(self) -> None:
        if self.claimed:
            subprocess.run(["ip", "link", "del", self.veth], capture_output=True, timeout=30)
            subprocess.run(["ip", "netns", "del", self.ns], capture_output=True, timeout=30)
            self.claimed = False

    def start(self, timeout: float = 60.0) -> None:
        d = self.directory
        self._network()
        script = (f"mount --bind {d}/resolv.conf /etc/resolv.conf && mount --bind {d}/hosts /etc/hosts && "
                  f"exec samba -s {d}/etc/smb.conf -i -M single")
        self.proc = subprocess.Popen(["ip", "netns", "exec", self.ns, "sh", "-c", script],
                                     stdin=subprocess.PIPE, stdout=(d / "samba.out").open("wb"),
                                     stderr=subprocess.STDOUT, start_new_session=True)
        if not wait_port(self.ip, 636, timeout):
            out = (d / "samba.out").read_text(errors="replace")
            self.stop()
            raise RuntimeError(f"samba {self.profile.name} did not start: {out[-2000:]}")
        time.sleep(0.5)

    def stop(self) -> None:
        if self.proc is not None:
            if self.proc.stdin:
                self.proc.stdin.close()  # samba -i stops when its stdin closes
            if self.proc.poll() is None:
                os.killpg(self.proc.pid, 15)
                try:
                    self.proc.wait(15)
                except subprocess.TimeoutExpired:
                    os.killpg(self.proc.pid, 9)
                    self.proc.wait(5)
            self.proc = None
        self._teardown_network()


#: third octets of 10.200.x.0/24 the test lab may claim (the benchmark uses 63; the SSH lab 160-223)
TEST_NETS = range(64, 100)


def claim_net(candidates: range = TEST_NETS) -> int:
    """Create the first free ``gxldap-<n>`` namespace (``ip netns add`` fails if it exists) and return n."""
    for n in candidates:
        if subprocess.run(["ip", "netns", "add", f"gxldap-{n}"], capture_output=True, timeout=30).returncode == 0:
            return n
    raise RuntimeError(f"no free gxldap-<n> network namespace in {candidates}")


def available() -> str | None:
    for tool in ("/usr/sbin/samba", "/usr/bin/samba-tool", SYSTEM_PYTHON):
        if not os.path.exists(tool):
            return f"{tool} is not installed (scripts/install-deps.sh)"
    if os.geteuid() != 0:
        return "Samba AD lab needs root (network namespaces)"
    probe = subprocess.run([SYSTEM_PYTHON, "-c", "import samba.samdb"], capture_output=True, timeout=60)
    if probe.returncode != 0:
        return "the samba Python bindings are missing (python3-samba)"
    return None


PASSWORD_ENV = "GXLAB_AD_PASSWORD"


@dataclass
class SambaLab:
    """The compliant and the non-compliant domain, provisioned and started once per test session."""

    root: Path
    ca: CA
    dcs: dict[str, SambaDC]

    def target(self, which: str, *, name: str | None = None, policy: dict | None = None, **options):
        from scanner.model import Platform, Target

        dc = self.dcs[which]
        opts = {"url": dc.ldaps_url, "ca_file": str(self.ca.cert), "bind_dn": dc.admin_upn,
                "password_env": PASSWORD_ENV, "timeout": 10, **options}
        return Target(name=name or f"ad-{which}", type=Platform.LDAP, options=opts, policy=policy or {})

    def stop(self) -> None:
        for dc in self.dcs.values():
            dc.stop()




def start(root: Path) -> SambaLab:
    """Provision and start both domains (the session fixture in tests/conftest.py calls this once)."""
    from tests.lab.slapdlab import make_ca

    lab = SambaLab(root, make_ca(root / "ca"), {})
    try:
        for profile in (GOOD, WEAK):
            dc = SambaDC(profile, root / profile.name, claim_net(), claimed=True)
            lab.dcs[profile.name] = dc
            dc.provision(lab.ca, cache=cache_root())
            dc.start()
    except Exception:
        lab.stop()
        raise
    os.environ[PASSWORD_ENV] = ADMIN_PASSWORD
    return lab
