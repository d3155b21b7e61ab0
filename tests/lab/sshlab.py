"""A lab of real OpenSSH hosts, each in its own network namespace and (optionally) its own /etc.

Each host is a ``/usr/sbin/sshd -D -e`` inside ``ip netns`` + ``unshare --mount --uts --pid``, reached over a
veth pair with a /30 subnet in 10.200.0.0/16 (host side .1, namespace side .2). A *profile* is the files the
host is judged on, built from the tests' fixtures and never from this machine: every path under /etc that a
Linux collector reads (tests/lab/reads.py derives them from the collectors' read table) comes from
``tests/fixtures/ssh/base/`` (a default Debian 12 host: accounts from Debian's base-passwd, package default
configuration) with ``tests/fixtures/ssh/<profile>/`` laid over it and a lab user added; the rest of /etc (the
dynamic linker's cache, NSS, alternatives, TLS roots: what sshd and sudo need to run) is copied from this machine.
Each host also gets its own /root, /home, /var/log, /var/spool, /proc/cmdline, /proc/swaps, hostname and process
table (tests/lab/test_lab_isolation.py proves it, and lists what stays shared and why). Hosts of one profile
share it, each host has its own /etc/ssh with its own host key, and its log. A *light* host shares the real /etc
(for the benchmark): it only gets its own sshd config, host key and root's authorized keys.

Names carry the owning process id (``gxssh-<pid>-<n>``), so a crashed earlier run never collides, and
namespaces left by dead runs are swept when a new lab starts. ``close()`` kills every process in each
namespace and deletes it, whatever happened before.
"""
from __future__ import annotations

import fcntl
import glob
import ipaddress
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from tests.lab.reads import etc_reads

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "ssh"
BASE = FIXTURES / "base"
NS_PREFIX = "gxssh-"
LAB_USER = "gxpscan"
LAB_UID = 2901
SUBNET_OCTETS = range(160, 224)  # third octets of 10.200.x.0/24 this lab may take
HOSTS_PER_OCTET = 64

#: Issue 12: the intrusive challenges' test account and a bystander whose state must not change (lab-only passwords).
CHALLENGE_ACCOUNT, CHALLENGE_PASSWORD = "gxptest", "Chal-Test-Pw-4e7a"
BYSTANDER, BYSTANDER_PASSWORD = "gxpother", "Other-Acct-Pw-19b3"
CHALLENGE_ACCOUNTS = (
    ("gxptest:x:2903:2903:challenge test account:/nonexistent:/bin/sh",
     "gxptest:$6$gxpchallengelab1$hvgIbJ2aRc57bwzVG9Tqd1vqIxlx7LHiSQJOAsYiT.t60cRQBn2ebWRDB4p2.6nNo.E/ThiDtHCDUf8lfx8Wx."
     ":20000:0:99999:7:::", "gxptest:x:2903:"),
    ("gxpother:x:2904:2904:bystander:/nonexistent:/bin/sh",
     "gxpother:$6$gxpotherlabsalt2$aumyWzUfOshQ5oJRnEhXDfxSXeCHjvxqjvhHowz0vBraytlujxXdFgkhMXe1F70GKEIHpJmL.3uqmvzb9h4Uq0"
     ":20000:0:99999:7:::", "gxpother:x:2904:"))

#: Per profile, beyond its fixture files: the lab user's shadow ageing (min:max:warn:inactive), the
#: ``openssl passwd`` scheme of its hash, extra accounts (passwd, shadow, group lines) and file modes.
#: Issue 14: ``sudo_log`` gives sudo a log file (under the lab's root); ``modes`` may name files under /etc/ssh too
#: (sshd_config and its drop-ins). Each host has an ed25519 key only: sshd refuses to load a key others can read,
#: so a weak host shows its host key problem as the keys its configuration names but that do not exist.
PROFILES: dict[str, dict] = {
    "hardened": {"aging": "1:90:14:30", "scheme": "-6", "sudo_log": True,
                 "accounts": ((None, None, "sugroup:x:2950:"),),
                 "modes": {"ssh/sshd_config": 0o600, "ssh/sshd_config.d/10-gxp.conf": 0o600}},
    "default": {"aging": "0:99999:7:", "scheme": "-6"},
    "nosudo": {"aging": "0:99999:7:", "scheme": "-6"},
    "weak": {
        "aging": "0:99999:7:", "scheme": "-1",
        "accounts": (("toor:x:0:0:second root:/root:/bin/sh", "toor:!:20000:0:99999:7:::", None),
                     ("kiosk:x:2902:2902:kiosk:/nonexistent:/bin/sh", "kiosk::20000:0:99999:7:::", "kiosk:x:2902:")),
        "modes": {"shadow": 0o644, "passwd": 0o666},
    },
    # Issue 12: pam_faillock over SSH with passwords, a challenge test account and a bystander (the "-nosudo" twin's
    # fixture links to this one's files; its scan user may not become root, so an unlock fails for real).
    "faillock": {"aging": "0:99999:7:", "scheme": "-6", "accounts": CHALLENGE_ACCOUNTS},
    "faillock-nosudo": {"aging": "0:99999:7:", "scheme": "-6", "accounts": CHALLENGE_ACCOUNTS},
}


#: Owner group and mode of base files that are not root:root 0644 (git keeps neither); shadow is group 42 in the
#: base /etc/group. Profiles' ``modes`` apply after these.
BASE_MODES: dict[str, tuple[int, int]] = {"shadow": (0o640, 42), "gshadow": (0o640, 42), "shadow-": (0o640, 42),
                                          "gshadow-": (0o640, 42), "sudoers": (0o440, 0),
                                          "sudoers.d/README": (0o440, 0)}
#: Every host's own /var/log: a default Debian 12 one (path, mode, group; a trailing / is a directory).
VAR_LOG: tuple[tuple[str, int, int], ...] = (
    ("apt/", 0o755, 0), ("journal/", 0o2755, 0), ("private/", 0o700, 0), ("alternatives.log", 0o644, 0),
    ("dpkg.log", 0o644, 0), ("faillog", 0o644, 0), ("btmp", 0o660, 43), ("lastlog", 0o664, 43), ("wtmp", 0o664, 43))
#: Mounted over the machine's paths in each host's mount namespace: lab directory or file -> path on the host.
PRIVATE_MOUNTS = (("etc", "/etc"), ("home", "/home"), ("root", "/root"), ("var-log", "/var/log"),
                  ("var-spool", "/var/spool"), ("proc/cmdline", "/proc/cmdline"), ("proc/swaps", "/proc/swaps"))


def forget_reads(etc: Path) -> None:
    """Delete from a copy of /etc every file a collector reads (their globs included), so that none of them can
    come from this machine; a directory named by a read (/etc/ssh, /etc/sudoers.d) stays, its files go."""
    for pattern in etc_reads():
        for name in glob.glob(str(etc / pattern.removeprefix("/etc/"))):  # dangling symlinks too (os-release)
            path = Path(name)
            if path.is_dir() and not path.is_symlink():
                if any(c in pattern for c in "*?["):
                    shutil.rmtree(path)
            else:
                path.unlink()


def sh(*args: str, check: bool = True, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(list(args), check=check, capture_output=True, text=True, **kw)


def require_tools() -> str | None:
    """The reason the lab cannot run here, or None."""
    if os.geteuid() != 0:
        return "the SSH lab needs root (network namespaces, mounts)"
    for tool in ("/usr/sbin/sshd", "ssh-keygen", "ip", "unshare", "openssl", "sudo"):
        if not shutil.which(tool):
            return f"{tool} is not installed (scripts/install-deps.sh)"
    return None


def sweep_stale() -> None:
    """Delete namespaces of earlier lab runs whose process is gone."""
    for line in sh("ip", "netns", "list", check=False).stdout.splitlines():
        name = line.split()[0] if line.split() else ""
        m = re.match(rf"{NS_PREFIX}(\d+)-", name)
        if m and not Path(f"/proc/{m.group(1)}").exists():
            kill_namespace(name)


def kill_namespace(ns: str) -> None:
    for pid in sh("ip", "netns", "pids", ns, check=False).stdout.split():
        try:
            os.kill(int(pid), signal.SIGKILL)
        except (ProcessLookupError, ValueError):
            pass
    sh("ip", "netns", "del", ns, check=False)


def keygen(path: Path, passphrase: str = "", comment: str = "gxpscan-lab") -> str:
    """Generate an ed25519 key; returns the public key line."""
    sh("ssh-keygen", "-q", "-t", "ed25519", "-N", passphrase, "-C", comment, "-f", str(path))
    return Path(f"{path}.pub").read_text().strip()


def used_octets() -> set[int]:
    """Third octets of 10.200.x.y addresses on this machine, in any namespace."""
    texts = [sh("ip", "-o", "-4", "addr").stdout]
    for line in sh("ip", "netns", "list", check=False).stdout.splitlines():
        if line.split():
            texts.append(sh("ip", "-n", line.split()[0], "-o", "-4", "addr", check=False).stdout)
    return {int(o) for text in texts for o in re.findall(r"inet 10\.200\.(\d+)\.", text)}


@dataclass
class LabHost:
    name: str
    ns: str
    address: str  # where the scanner reaches it (namespace side)
    gateway: str  # host side of the veth
    key_pub: str  # host public key line (type base64)
    log: Path
    profile: str
    proc: subprocess.Popen | None = None
    port: int = 22

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def channels_opened(self) -> int:
        """Session channels the server saw (needs LogLevel DEBUG1, which every lab host sets)."""
        return self.log_text().count("server_input_channel_open: ctype session")


@dataclass
class SSHLab:
    root: Path
    sudo_password: str = "lab-sudo-S3cret-7d1e"
    passphrase: str = "lab-key-Passphrase-91c2"
    hosts: dict[str, LabHost] = field(default_factory=dict)
    _namespaces: list[str] = field(default_factory=list)
    _octets: list[int] = field(default_factory=list)
    _next: int = 0
    _profiles: dict[str, Path] = field(default_factory=dict)
    system_etc: Path = Path("/etc")  # where the runtime part of each host's /etc is copied from

    # ---- setup -----------------------------------------------------------------------------
    def __post_init__(self) -> None:
        self.token = secrets.token_hex(3)  # names unique per lab (interface names stay under 15 characters)
        self.root.mkdir(parents=True, exist_ok=True)
        self.keys = self.root / "keys"
        self.keys.mkdir(exist_ok=True)
        self.user_key = self.keys / "id_lab"
        self.user_key_enc = self.keys / "id_lab_enc"
        self.wrong_key = self.keys / "id_wrong"
        self.authorized = keygen(self.user_key) + "\n" + keygen(self.user_key_enc, self.passphrase) + "\n"
        keygen(self.wrong_key)
        self.known_hosts = self.root / "known_hosts"
        self.known_hosts.write_text("")
        sweep_stale()
        (Path("/run/sshd")).mkdir(parents=True, exist_ok=True)

    def _address(self) -> tuple[str, str, str]:
        index = self._next
        self._next += 1
        block, slot = divmod(index, HOSTS_PER_OCTET)
        while len(self._octets) <= block:
            taken = used_octets() | set(self._octets)
            free = [o for o in SUBNET_OCTETS if o not in taken]
            if not free:
                raise RuntimeError("no free 10.200.x.0/24 block left for the SSH lab")
            self._octets.append(free[secrets.randbelow(len(free))])  # random: labs started together rarely meet
        net = ipaddress.ip_network(f"10.200.{self._octets[block]}.{slot * 4}/30")
        gw, addr = list(net.hosts())
        return f"{NS_PREFIX}{os.getpid()}-{self.token}-{index}", str(gw), str(addr)

    def _link(self, ns: str, gw: str, addr: str, *, silent: bool = False) -> None:
        index = ns.rsplit("-", 1)[1]
        outer, inner = f"gs{self.token}{index}", f"gn{self.token}{index}"
        sh("ip", "netns", "add", ns)
        self._namespaces.append(ns)
        sh("ip", "link", "add", outer, "type", "veth", "peer", "name", inner, "netns", ns)
        sh("ip", "addr", "add", f"{gw}/30", "dev", outer)
        sh("ip", "link", "set", outer, "up")
        if not silent:  # a silent host never answers ARP: its address is unreachable
            sh("ip", "-n", ns, "addr", "add", f"{addr}/30", "dev", inner)
        sh("ip", "-n", ns, "link", "set", inner, "up")
        sh("ip", "-n", ns, "link", "set", "lo", "up")

    def unreachable(self) -> str:
        """An address in a lab subnet where nothing answers (not even ARP)."""
        ns, gw, addr = self._address()
        self._link(ns, gw, addr, silent=True)
        return addr

    def profile(self, name: str) -> Path:
        """A copy of /etc with the profile's fixture files over it and the lab user added."""
        if name in self._profiles:
            return self._profiles[name]
        base = self.root / "profiles" / name
        etc, home = base / "etc", base / "home"
        shutil.copytree(self.system_etc, etc, symlinks=True)  # what sshd and sudo need to run, not what is judged
        forget_reads(etc)
        for stale in (etc / "ssh").glob("ssh_host_*"):
            stale.unlink()
        shutil.copytree(BASE / "etc", etc, dirs_exist_ok=True)
        for rel, (mode, gid) in BASE_MODES.items():
            (etc / rel).chmod(mode)
            os.chown(etc / rel, 0, gid)
        for d in ("ssh/sshd_config.d", "ssh/ssh_config.d", "sudoers.d"):
            (etc / d).mkdir(parents=True, exist_ok=True)
        overlay = FIXTURES / name
        if overlay.is_dir():
            shutil.copytree(overlay, etc, dirs_exist_ok=True)
        self._private_dirs(base)
        (etc / "hostname").write_text(f"gx-{name}\n")
        for d in (etc / "sudoers.d",):
            for f in d.iterdir():
                f.chmod(0o440)
        settings = PROFILES.get(name, PROFILES["default"])
        pw_hash = sh("openssl", "passwd", settings["scheme"], "-stdin", input=self.sudo_password + "\n").stdout.strip()
        today = int(time.time() // 86400)
        accounts = [(f"{LAB_USER}:x:{LAB_UID}:{LAB_UID}:gxpscan lab user:/home/{LAB_USER}:/bin/sh",
                     f"{LAB_USER}:{pw_hash}:{today}:{settings['aging']}::", f"{LAB_USER}:x:{LAB_UID}:"),
                    *settings.get("accounts", ())]
        for passwd, shadow, group in accounts:
            gshadow = f"{group.split(':')[0]}:!::" if group else None
            for file, line in (("passwd", passwd), ("shadow", shadow), ("group", group), ("gshadow", gshadow)):
                if line:
                    with open(etc / file, "a") as f:
                        f.write(line + "\n")
        for file, mode in settings.get("modes", {}).items():
            (etc / file).chmod(mode)
        if settings.get("sudo_log"):
            log = etc / "sudoers.d" / "zz-gxp-log"
            log.write_text(f'Defaults logfile="{base / "sudo.log"}"\n')
            log.chmod(0o440)
        ssh_dir = home / LAB_USER / ".ssh"
        ssh_dir.mkdir(parents=True)
        (ssh_dir / "authorized_keys").write_text(self.authorized)
        modes = ((home, 0o755), (home / LAB_USER, 0o700), (ssh_dir, 0o700), (ssh_dir / "authorized_keys", 0o600))
        for p, mode in modes:
            p.chmod(mode)
            if p != home:
                os.chown(p, LAB_UID, LAB_UID)
        self._profiles[name] = base
        return base

    @staticmethod
    def _private_dirs(base: Path) -> None:
        """The host's own /root (Debian's skeleton), /var/log, /var/spool (no crontab), /proc/cmdline, /proc/swaps."""
        root = base / "root"
        shutil.copytree(BASE / "root", root)
        root.chmod(0o700)
        log = base / "var-log"
        log.mkdir(mode=0o755)
        for rel, mode, gid in VAR_LOG:
            path = log / rel
            path.mkdir() if rel.endswith("/") else path.touch()
            path.chmod(mode)
            os.chown(path, 0, gid)
        (base / "var-spool" / "cron" / "crontabs").mkdir(parents=True)
        shutil.copytree(BASE / "proc", base / "proc")

    # ---- hosts -----------------------------------------------------------------------------
    def add(self, name: str, profile: str = "default", *, sshd_options: tuple[str, ...] = (),
            light: bool = False, start: bool = True, journal: bool = False) -> LabHost:
        """``journal`` (issue 12): the host runs its own systemd-journald (private /run) and sshd's log goes to its
        journal (through systemd-cat, as sshd's own stream: _COMM sshd, _UID 0) instead of the log file."""
        ns, gw, addr = self._address()
        self._link(ns, gw, addr)
        hdir = self.root / "hosts" / name
        hdir.mkdir(parents=True)
        if not light:  # each host gets its own /etc/ssh with its own host key
            shutil.copytree(self.profile(profile) / "etc" / "ssh", hdir / "ssh", symlinks=True)
        key = hdir / ("ssh" if not light else "") / "ssh_host_ed25519_key"
        pub = keygen(key, comment=name)
        host = LabHost(name=name, ns=ns, address=addr, gateway=gw, key_pub=" ".join(pub.split()[:2]),
                       log=hdir / "sshd.log", profile="light" if light else profile)
        self.hosts[name] = host
        if not light:
            with open(self.profile(profile) / "etc" / "hosts", "a") as f:
                f.write(f"127.0.1.1\t{name}\n")
        if start:
            self._start(host, hdir, key, sshd_options, light, journal)
        return host

    def _start(self, host: LabHost, hdir: Path, key: Path, options: tuple[str, ...], light: bool,
               journal: bool = False) -> None:
        # the caller's options first: for sshd the first value of an option wins (issue 12: a LogLevel of its own)
        opts = [*[a for o in options for a in ("-o", o)], "-o", "LogLevel=DEBUG1", "-o", "PidFile=none"]
        if light:
            auth = hdir / "authorized_keys"
            auth.write_text(self.authorized)
            auth.chmod(0o600)
            config = hdir / "sshd_config"
            config.write_text(f"AuthorizedKeysFile {auth}\nPermitRootLogin prohibit-password\nUsePAM no\n"
                              "PasswordAuthentication no\nKbdInteractiveAuthentication no\n"
                              "StrictModes no\nMaxStartups 200\n")  # the key file is root's, 0600, under /tmp
            argv = ["ip", "netns", "exec", host.ns, "/usr/sbin/sshd", "-D", "-e", "-f", str(config),
                    "-h", str(key), *opts]
        else:
            base = self.profile(host.profile)
            mounts = [(base / own, path) for own, path in PRIVATE_MOUNTS] + [(hdir / "ssh", "/etc/ssh")]
            sshd = "/usr/sbin/sshd -D -e " + " ".join(f"'{o}'" for o in opts)
            steps = [*(f"mount --bind {own} {path}" for own, path in mounts), f"hostname {host.name}"]
            if journal:
                # journald wants a cgroup file system (ip netns exec mounts a fresh /sys without one)
                steps += ["mount -t cgroup2 none /sys/fs/cgroup", "mount -t tmpfs -o mode=0755 tmpfs /run",
                          "mkdir -p /run/sshd /run/systemd/journal",
                          "{ /lib/systemd/systemd-journald & }",
                          "for i in $(seq 100); do [ -S /run/systemd/journal/stdout ] && break; sleep 0.1; done"]
                sshd = "systemd-cat -t sshd " + sshd
            script = " && ".join([*steps, "exec " + sshd])
            # its own mount, host name and process table (sshd is its PID 1, killed with unshare)
            argv = ["ip", "netns", "exec", host.ns, "unshare", "--mount", "--uts", "--pid", "--fork",
                    "--kill-child=SIGKILL", "--mount-proc", "--propagation", "private", "sh", "-c", script]
        with open(host.log, "ab") as log:
            host.proc = subprocess.Popen(argv, stdout=log, stderr=log, stdin=subprocess.DEVNULL)

    def wait_ready(self, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        for host in self.hosts.values():
            if host.proc is None:
                continue
            while True:
                if host.proc.poll() is not None:
                    raise RuntimeError(f"sshd for {host.name} exited: {host.log_text()[-2000:]}")
                try:
                    with socket.create_connection((host.address, host.port), timeout=1):
                        break
                except OSError:
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"sshd for {host.name} not listening: {host.log_text()[-2000:]}") from None
                    time.sleep(0.05)

    def write_known_hosts(self, path: Path | None = None, *, override: dict[str, str] | None = None) -> Path:
        """known_hosts for every host; ``override`` maps a host name to a different key line."""
        path = path or self.known_hosts
        lines = []
        for host in self.hosts.values():
            key = (override or {}).get(host.name, host.key_pub)
            lines.append(f"{host.address} {key}")
        path.write_text("\n".join(lines) + "\n")
        return path

    def link_pair(self, a: LabHost, b: LabHost) -> str:
        """A private veth between two hosts' namespaces; returns b's address on it (only a reaches it)."""
        ns, gw, addr = self._address()  # reserve a /30 (the namespace name is unused)
        index = ns.rsplit("-", 1)[1]
        left, right = f"gp{self.token}{index}", f"gq{self.token}{index}"
        sh("ip", "link", "add", left, "netns", a.ns, "type", "veth", "peer", "name", right, "netns", b.ns)
        sh("ip", "-n", a.ns, "addr", "add", f"{gw}/30", "dev", left)
        sh("ip", "-n", b.ns, "addr", "add", f"{addr}/30", "dev", right)
        sh("ip", "-n", a.ns, "link", "set", left, "up")
        sh("ip", "-n", b.ns, "link", "set", right, "up")
        return addr

    # ---- teardown --------------------------------------------------------------------------
    def close(self) -> None:
        for host in self.hosts.values():
            if host.proc is not None and host.proc.poll() is None:
                host.proc.kill()
        for ns in self._namespaces:
            kill_namespace(ns)
        for host in self.hosts.values():
            if host.proc is not None:
                try:
                    host.proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    pass
        self._namespaces.clear()


def lab_namespaces() -> list[str]:
    """Namespaces of labs owned by this process (for the clean-up test)."""
    return [line.split()[0] for line in sh("ip", "netns", "list", check=False).stdout.splitlines()
            if line.startswith(f"{NS_PREFIX}{os.getpid()}-")]


# ---- issue 12: an audit daemon for a test session ------------------------------------------------------------------
#: The kernel keeps one audit daemon, registered from the initial namespaces: a lab host (its own network, mount and
#: PID namespace) cannot run its own. Its PAM and sshd still send their records (USER_START, USER_LOGIN, ...) to the
#: kernel, which hands them to that one daemon. So a session runs one auditd, writing into one lab host's private
#: /var/log/audit/audit.log: that host then has an audit trail holding every lab host's records (tests tell theirs
#: apart by account and time). Nothing runs when another audit daemon is registered; stop() restores the kernel's
#: enabled flag and deletes every rule the lab added.
AUDITD_CONF = """local_events = yes
write_logs = yes
log_file = {log}
log_group = root
log_format = ENRICHED
flush = INCREMENTAL_ASYNC
freq = 20
max_log_file = 64
num_logs = 2
max_log_file_action = ROTATE
space_left = 10
space_left_action = IGNORE
admin_space_left = 5
admin_space_left_action = IGNORE
disk_full_action = IGNORE
disk_error_action = IGNORE
plugin_dir = {plugins}
end_of_event_timeout = 2
"""


def audit_status() -> dict[str, str]:
    """``auditctl -s`` as a dict (empty when it cannot ask the kernel)."""
    out = sh("auditctl", "-s", check=False)
    return dict(line.split(" ", 1) for line in out.stdout.split("\n") if " " in line) if out.returncode == 0 else {}


def auditd_unavailable() -> str | None:
    """Why a session auditd cannot run here, or None."""
    for tool in ("auditd", "auditctl"):
        if not shutil.which(tool):
            return f"{tool} is not installed (scripts/install-deps.sh: auditd)"
    status = audit_status()
    if not status:
        return "auditctl -s failed: no audit support in this kernel or no CAP_AUDIT_CONTROL"
    pid = status.get("pid", "0").split()[0]
    if pid != "0" and Path(f"/proc/{pid}").exists():
        return f"an audit daemon already runs (pid {pid}); the lab does not take the kernel's audit over"
    return None


#: Test sessions that run at once (CI on two Pythons) take turns at the one audit daemon: held from acquire() on.
AUDITD_LOCK = Path("/run/gxpscan-lab-auditd.lock")


@dataclass
class LabAuditd:
    """One auditd (``auditd -n -c <dir>``) writing ``log``; ``stop()`` is safe to call twice."""

    root: Path
    log: Path
    proc: subprocess.Popen | None = None
    _enabled: str = "0"
    _rules: list[list[str]] = field(default_factory=list)
    _lock: IO[str] | None = None

    def acquire(self, timeout: float = 900.0) -> str | None:
        """Wait for this machine's other test sessions to finish with their audit daemon; then why one cannot run
        here, or None (call release() in any case)."""
        self._lock = open(AUDITD_LOCK, "a")  # held until release()
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return auditd_unavailable()
            except BlockingIOError:
                if time.monotonic() > deadline:
                    return f"another test session held the lab's audit daemon for {timeout:.0f} s ({AUDITD_LOCK})"
                time.sleep(1)

    def release(self) -> None:
        if self._lock is not None:
            self._lock.close()  # closing drops the lock
            self._lock = None

    def start(self, timeout: float = 15.0) -> None:
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        (self.root / "plugins.d").mkdir(exist_ok=True)
        conf = self.root / "auditd.conf"
        conf.write_text(AUDITD_CONF.format(log=self.log, plugins=self.root / "plugins.d"))
        conf.chmod(0o640)
        self.log.parent.mkdir(parents=True, exist_ok=True)
        self._enabled = audit_status().get("enabled", "0").split()[0]
        with open(self.root / "auditd.out", "ab") as out:
            self.proc = subprocess.Popen(["auditd", "-n", "-c", str(self.root)], stdout=out, stderr=out,
                                         stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while audit_status().get("pid", "0").split()[0] != str(self.proc.pid) or not self.log.exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"auditd did not start: {(self.root / 'auditd.out').read_text()[-2000:]}")
            time.sleep(0.1)

    def exclude(self, *msgtypes: str) -> None:
        """Drop user-space records of these types before they reach the daemon (until ``include_all``)."""
        for kind in msgtypes:
            rule = ["always,exclude", "-F", f"msgtype={kind}"]
            sh("auditctl", "-a", *rule)
            self._rules.append(rule)

    def drop_user_records(self, field_: str) -> None:
        """Drop user-space records matching ``field_`` (e.g. ``auid=2903``) on the kernel's user filter list."""
        rule = ["never,user", "-F", field_]
        sh("auditctl", "-a", *rule)
        self._rules.append(rule)

    def include_all(self) -> None:
        while self._rules:
            sh("auditctl", "-d", *self._rules.pop(), check=False)

    def stop(self) -> None:
        self.include_all()
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        sh("auditctl", "-e", self._enabled, check=False)  # auditd leaves the kernel flag on when it stops
