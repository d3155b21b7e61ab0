"""The SSH lab's hosts are judged on the tests' fixtures only, never on this machine's files (issue 15).

Observed before: a Debian machine with an ordinary account whose password never expires failed the fleet test,
because the "hardened" lab host read the machine's /etc/shadow. Here every path the Linux collectors read
(derived from their read table, tests/lab/reads.py) must be private to a lab host or on the allow-list below with
its reason; a running host proves the private ones are mounts of its own; and a hostile machine (accounts, sudo
rules and login.defs added to its /etc, bind-mounted in a mount namespace of this test's own, so that no other
process on the machine sees them) leaves every lab verdict unchanged.
"""
from __future__ import annotations

import fnmatch
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from scanner.collectors.linux import SECTIONS, tools_of
from scanner.model import Platform, Target
from tests.conftest import lab_unavailable
from tests.lab.reads import collector_reads
from tests.lab.sshlab import PRIVATE_MOUNTS, SSHLab, require_tools

pytestmark = pytest.mark.lab
REPO = Path(__file__).resolve().parents[2]

#: Paths each lab host has of its own: the mounts of PRIVATE_MOUNTS, /etc/ssh per host, and its own /proc
#: (``unshare --pid --mount-proc``: its process table holds its sshd and what that runs).
PRIVATE = tuple(path for _, path in PRIVATE_MOUNTS) + ("/etc/ssh", "/proc/[0-9]*")

#: Paths the lab hosts share with this machine, and why that is no leak.
SHARED = {
    "/usr": "installed packages (programs, PAM modules, systemd units, os-release): the suite depends on the "
            "packages scripts/install-deps.sh installs, the same on every machine",
    "/lib": "installed packages (/lib is /usr/lib on Debian 12)",
    "/lib64": "installed packages",
    "/bin": "installed packages (/bin is /usr/bin on Debian 12)",
    "/sbin": "installed packages (/sbin is /usr/sbin on Debian 12)",
    "/opt": "setuid search root: linux.audit.privileged_commands turns on the host's audit rules (private, none on "
            "the lab hosts), not on which programs exist",
    "/run/systemd/journald.conf.d": "runtime drop-ins of the machine's journald, the only journald the lab hosts "
                                    "have; tests/lab/test_ssh_fleet.py judges the journal by whether it runs",
}

#: Probes that ask the machine rather than read a file, and why that is no leak.
MACHINE_TOOLS = {
    "auditctl": "the kernel's audit state: one kernel for all hosts; the lab expects no audit rules loaded",
    "systemctl": "the machine's service manager (journald active, timers); a lab host has no init of its own",
    "timedatectl": "the machine's clock synchronisation: linux.time.synchronized is error on every lab host",
    "chronyc": "a time daemon's state (none on the lab hosts, which do not run one)",
    "ntpq": "a time daemon's state (none on the lab hosts, which do not run one)",
    "lsblk": "block devices are the kernel's: linux.crypto.disk_encryption is manual on the lab hosts",
    "findmnt": "the host's own mount namespace, over the machine's filesystems (linux.crypto.tmp)",
    "date": "the machine's clock; the lab writes ageing relative to today, and fixture dates lie in the past",
    "uname": "the kernel release is the machine's; the host name is the lab host's own (its UTS namespace)",
}
#: Probes that read only files (the paths of collector_reads) or the host's own process table.
FILE_TOOLS = {"awk", "cat", "find", "grep", "head", "od", "pgrep", "readlink", "sh", "sort", "ssh", "sshd", "stat",
              "timeout"}


def private(path: str) -> bool:
    return any(path == p or path.startswith(p + "/") or fnmatch.fnmatch(path, p + "/*") for p in PRIVATE)


def test_every_path_a_linux_collector_reads_is_private_or_allowed_with_a_reason():
    reads = collector_reads()
    assert len(reads) > 100 and {"/etc/shadow", "/etc/passwd", "/proc/cmdline"} <= {r.path for r in reads}
    unexplained = [r for r in reads if not private(r.path)
                   and not any(r.path == s or r.path.startswith(s + "/") for s in SHARED)]
    assert unexplained == []
    target = Target("lab", Platform.LINUX, {}, {})
    tools = {t for spec in SECTIONS for t in tools_of(spec.plan(target)[1])}
    assert sorted(tools - FILE_TOOLS - set(MACHINE_TOOLS)) == []


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    reason = require_tools()
    if reason:
        lab_unavailable(reason)
    lab = SSHLab(tmp_path_factory.mktemp("sshlab-isolation"))
    try:
        lab.add("hardened", "hardened")
        lab.wait_ready()
        yield lab
    finally:
        lab.close()


def in_host(lab: SSHLab, command: str) -> str:
    """Run a command in the hardened host's namespaces (those of its sshd, PID 1 there)."""
    pids = subprocess.run(["ip", "netns", "pids", lab.hosts["hardened"].ns], capture_output=True, text=True,
                          check=True).stdout.split()
    sshd = next(p for p in pids if Path(f"/proc/{p}/comm").read_text().strip() == "sshd")
    return subprocess.run(["nsenter", "-t", sshd, "-m", "-u", "-p", "-n", "sh", "-c", command],
                          capture_output=True, text=True, check=True).stdout


def test_every_private_path_is_a_mount_of_the_lab_hosts_own(lab):
    mounts = {path for _, path in PRIVATE_MOUNTS} | {"/etc/ssh", "/proc"}
    for read in collector_reads():
        if not private(read.path):
            continue
        where = read.path.split("*")[0].split("[")[0].rstrip("/") or "/"  # the part before a glob
        target = in_host(lab, f"p={where}; while [ ! -e \"$p\" ]; do p=${{p%/*}}; done; findmnt -n -o TARGET -T "
                              f"\"$p\" | tail -1").strip()
        assert target in mounts, (read, target)
        assert lab.root.as_posix() in in_host(lab, f"findmnt -n -o FSROOT,SOURCE -T {target}") or target == "/proc"
    assert in_host(lab, "cat /proc/1/comm").strip() == "sshd"  # its own process table
    assert in_host(lab, "hostname").strip() == "hardened"


#: Lines a hostile machine adds to its account files: an account whose password never expires (Debian's default
#: ageing: the observed failure), a second UID 0 with an empty password, and a group.
HOSTILE = {
    "passwd": "kat-leak:x:1001:1001::/home/kat-leak:/bin/bash\nevil0:x:0:0::/root:/bin/bash\n",
    "shadow": "kat-leak:$y$j9T$abc$def:20000:0:99999:7:::\nevil0::20000:0:99999:7:::\n",
    "group": "kat-leak:x:1001:evil0\n",
    "gshadow": "kat-leak:!::evil0\n",
    "login.defs": "# gxp-hostile-login-defs\nPASS_MAX_DAYS 99999\nPASS_MIN_DAYS 0\nENCRYPT_METHOD MD5\n",
}

CHILD = r"""
import json, os, sys
from pathlib import Path
from tests.lab import test_ssh_fleet as fleet
from tests.lab.sshlab import SSHLab

root = Path(sys.argv[1])
lab = SSHLab(root / "lab")
try:
    for name in fleet.PROFILES:
        lab.add(name, name)
    lab.wait_ready()
    lab.write_known_hosts()
    os.environ[fleet.SUDO_ENV] = lab.sudo_password
    os.environ[fleet.PASS_ENV] = lab.passphrase
    _, report, _ = fleet.scan(root, fleet.configured_targets(lab))
    raw = "\n".join(v["raw"] for v in report["evidence"].values())
    print(json.dumps({"statuses": fleet.statuses(report), "raw": raw}))
finally:
    lab.close()
"""


def test_a_hostile_machine_changes_no_verdict_on_the_lab_hosts(tmp_path):
    """The machine's /etc gets a never-expiring account, a second root, MD5 in login.defs and a NOPASSWD rule, in a
    mount namespace of this test's own; the lab started there judges its hosts exactly as the fleet test expects."""
    reason = require_tools()
    if reason:
        lab_unavailable(reason)
    hostile = tmp_path / "hostile"
    (hostile / "sudoers.d").mkdir(parents=True)
    binds = []
    for name, extra in HOSTILE.items():
        (hostile / name).write_text(Path("/etc", name).read_text() + extra)
        binds.append(f"mount --bind {hostile / name} /etc/{name}")
    (hostile / "sudoers.d" / "hostile").write_text("ALL ALL=(ALL) NOPASSWD: ALL\n")
    binds.append(f"mount --bind {hostile / 'sudoers.d'} /etc/sudoers.d")
    check = "grep -q '^kat-leak:' /etc/shadow && grep -q NOPASSWD /etc/sudoers.d/hostile"  # the machine is hostile
    script = " && ".join([*binds, check, f"exec {sys.executable} -c \"$CHILD\" {tmp_path / 'run'}"])
    proc = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c", script], cwd=REPO,
                          capture_output=True, text=True, timeout=300,
                          env={**os.environ, "CHILD": CHILD, "PYTHONPATH": str(REPO)})
    assert proc.returncode == 0, proc.stderr[-3000:]
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    from tests.lab.test_ssh_fleet import EXPECTED, PROFILES

    for i, profile in enumerate(PROFILES):
        assert got["statuses"][profile] == {check: expected[i] for check, expected in EXPECTED.items()}, profile
    assert [word for word in ("kat-leak", "evil0", "ALL ALL=(ALL) NOPASSWD", "gxp-hostile") if word in got["raw"]] == []
    assert "kat-leak" not in Path("/etc/passwd").read_text()  # the machine itself never saw them
