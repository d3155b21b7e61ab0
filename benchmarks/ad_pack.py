"""Benchmark: gxpscan's Active Directory pack against the floor of ``ldapsearch`` paging the same data.

A Samba AD domain controller (in its own network namespace) gets 10,000 users and 500 groups, created in
bulk with ldbadd on the offline sam.ldb before the DC starts. Then, over verified LDAPS:

* gxpscan: ``python -m scanner scan --check 'ad.*' --format json`` (connect, collect every AD fact,
  evaluate the 10 AD checks, write the run record and the JSON report);
* the floor: one ``ldapsearch`` per search the AD facts make (same base, filter, attributes, paging at
  1000), output written to a file;
* the access review (issue 17, in-process through the runner, the way ``access-review`` collects): the access
  list alone (``scan_target(target, [], {}, access=True)``) and the AD pack with it; each prints how long building
  the list from the facts took and how many accounts it has.

Wall time (median of --runs) and peak RSS of each side are printed as a table and as JSON.
Run as root:  python3 benchmarks/ad_pack.py [--users 10000] [--groups 500] [--runs 3]
"""
from __future__ import annotations

import argparse
import hashlib
import inspect
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import BinaryIO

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.lab import sambalab  # noqa: E402
from tests.lab.slapdlab import make_ca  # noqa: E402

PROFILE = sambalab.DomainProfile("bench", "BENCHAD.TEST", {
    "policy": sambalab.domain_policy(14, True, False, 90, 1, 24, 5, 30, 30),
})
DAY_TICKS = 86400 * 10_000_000
BENCH_NET = 63  # 10.200.63.0/24, namespace gxldap-63 (outside the test lab's range)
#: connect and collect every fact the AD checks need, nothing else (no evaluation, no report)
COLLECT_ONLY = """
import json, sys
from scanner.collectors import collect
from scanner.connectors import open_connector
from scanner.inventory import load_inventory
from scanner.registry import Registry
target = load_inventory(sys.argv[1]).targets[0]
facts = {f for s in Registry.load(["checks.ad"]).select() for f in s.facts}
with open_connector(target) as conn:
    got = collect(conn, target, facts)
bad = [n for n, f in got.items() if not f.ok]
sys.exit(f"facts failed: {bad}" if bad else 0)
"""
#: one runner scan with the access list; argv: inventory, "pack" (the AD checks too) or "alone"; prints JSON
ACCESS_SCAN = """
import json, sys, time
import scanner.runner as runner
from scanner.inventory import load_inventory
from scanner.registry import Registry
target = load_inventory(sys.argv[1]).targets[0]
specs = list(Registry.load(["checks.ad"]).select()) if sys.argv[2] == "pack" else []
built = []
def timed_access(t, facts, _build=runner.system_access):
    t0 = time.perf_counter()
    got = _build(t, facts)
    built.append(time.perf_counter() - t0)
    return got
runner.system_access = timed_access
listed = runner.scan_target(target, specs, {}, access=True).access
if listed is None or listed.error:
    sys.exit(f"no access list: {listed.error if listed else None}")
print(json.dumps({"build_s": sum(built), "accounts": len(listed.accounts),
                  "privileged": sum(1 for a in listed.accounts if a.privileged)}))
"""
EPOCH_AS_FILETIME = 116444736000000000


def bulk_ldif(base: str, users: int, groups: int) -> str:
    """Enabled users (no password is set: offline ldbadd allows it) with a realistic sprinkle of findings
    (1% never-expiring, 0.5% PASSWD_NOTREQD, 2% stale) and groups of 20 members each; group 0 is nested
    into Domain Admins so privileged-group resolution has nested members to find."""
    now = int(time.time() * 10_000_000) + EPOCH_AS_FILETIME
    out = []
    for i in range(users):
        last = now - (400 if i % 50 == 7 else i % 60) * DAY_TICKS
        uac = 0x10200 if i % 100 == 3 else 0x220 if i % 200 == 5 else 0x200
        out.append(f"dn: CN=bench{i:05d},CN=Users,{base}\nobjectClass: user\nsAMAccountName: bench{i:05d}\n"
                   f"userAccountControl: {uac}\nlastLogonTimestamp: {last}\n"
                   f"description: benchmark user {i}\n")
    for g in range(groups):
        members = "".join(f"member: CN=bench{i:05d},CN=Users,{base}\n" for i in range(g, users, groups))
        out.append(f"dn: CN=benchgroup{g:03d},CN=Users,{base}\nobjectClass: group\n"
                   f"sAMAccountName: benchgroup{g:03d}\n{members}")
    out.append(f"dn: CN=Domain Admins,CN=Users,{base}\nchangetype: modify\nadd: member\n"
               f"member: CN=benchgroup000,CN=Users,{base}\n")
    return "\n".join(out)


def timed(cmd: list[str], env: dict[str, str] | None = None,
          stdout: int | BinaryIO = subprocess.DEVNULL) -> tuple[float, int, int]:
    """Wall seconds, peak RSS in KiB (of that process alone) and exit code."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=stdout, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    if proc.returncode not in (0, 1, 3):
        raise RuntimeError(f"{cmd[0]} exited {proc.returncode}: {err[-2000:]}")
    return wall, usage.ru_maxrss, proc.returncode


def floor_queries(base: str, domain_sid: str) -> list[tuple[str, str, str, list[str]]]:
    """(base, scope, filter, attributes): the data the AD facts read, fetched the way ldapsearch would."""
    from scanner.collectors.ldap import ad as c

    user = c.USER_FILTER
    sids = [f"{domain_sid}-{rid}" for rid in c.PRIVILEGED_DOMAIN_RIDS] + list(c.PRIVILEGED_BUILTIN_SIDS)
    pso = f"CN=Password Settings Container,CN=System,{base}"
    return [
        ("", "base", "(objectClass=*)", ["*", "+"]),
        (base, "base", "(objectClass=domain)", list(c.DOMAIN_POLICY_ATTRS)),
        (pso, "one", "(objectClass=msDS-PasswordSettings)", ["cn", *c.PSO_RULE_ATTRS, "msDS-PSOAppliesTo"]),
        (base, "sub", "(msDS-PSOApplied=*)", ["msDS-PSOApplied"]),
        (base, "sub", user, c.USER_ATTRS),
        (base, "base", "(objectClass=*)", ["objectSid"]),
        (base, "sub", "(&(objectClass=group)(|" + "".join(f"(objectSid={s})" for s in sids) + "))",
         ["objectSid", "cn", "member"]),
        # every group's members in one paged search: enough to resolve nesting (gxpscan expands only the
        # privileged groups, one base search per member)
        (base, "sub", "(objectClass=group)", ["objectClass", "sAMAccountName", "member"]),
        # members through their primary group, for the privileged domain groups (gxpscan: one search per group)
        (base, "sub", "(|" + "".join(f"(primaryGroupID={rid})" for rid in c.PRIVILEGED_DOMAIN_RIDS) + ")",
         c.MEMBER_ATTRS),
        (base, "sub", "(&(objectClass=user)(sAMAccountName=krbtgt))", ["pwdLastSet"]),
    ]


def run_floor(dc: sambalab.SambaDC, ca: Path, pwfile: Path, queries: list[tuple[str, str, str, list[str]]],
              outdir: Path) -> tuple[float, int]:
    env = {**os.environ, "LDAPTLS_CACERT": str(ca), "LDAPTLS_REQCERT": "demand"}
    wall, peak = 0.0, 0
    for n, (base, scope, flt, attrs) in enumerate(queries):
        with (outdir / f"q{n}.ldif").open("wb") as out:
            w, rss, _ = timed(["ldapsearch", "-LLL", "-x", "-H", dc.ldaps_url, "-D", dc.admin_upn, "-y", str(pwfile),
                               "-b", base, "-s", scope, "-E", "pr=1000/noprompt", flt, *attrs], env=env, stdout=out)
        wall, peak = wall + w, max(peak, rss)
    return wall, peak


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--users", type=int, default=10_000)
    ap.add_argument("--groups", type=int, default=500)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--keep", action="store_true", help="keep the per-run outputs")
    ap.add_argument("--rebuild", action="store_true", help="provision and load again even if cached")
    args = ap.parse_args(argv)
    if reason := sambalab.available():
        print(f"cannot run: {reason}", file=sys.stderr)
        return 2
    cache = Path(tempfile.gettempdir()) / f"gxpscan-adbench-{args.users}u-{args.groups}g"  # reused while valid
    work = Path(tempfile.mkdtemp(prefix="gxpscan-adbench-"))
    dc = sambalab.SambaDC(PROFILE, cache / "dc", BENCH_NET)
    try:
        provisioned, loaded = build_domain(dc, cache, args.users, args.groups, args.rebuild)
        nest_privileged(dc, cache)
        ca = cache / "ca" / "ca.pem"
        t0 = time.perf_counter()
        dc.start(timeout=120)
        started = time.perf_counter() - t0

        pwfile = work / "bindpw"
        pwfile.write_text(sambalab.ADMIN_PASSWORD)  # ldapsearch -y: the password never goes on a command line
        pwfile.chmod(0o600)
        inventory = work / "inventory.yaml"
        inventory.write_text(json.dumps({"version": 1, "policy": {"approved_privileged": ["Administrator"]},
                                         "targets": [{"name": "bench-ad", "type": "ldap", "url": dc.ldaps_url,
                                                      "ca_file": str(ca), "bind_dn": dc.admin_upn,
                                                      "password_env": "GXBENCH_AD_PASSWORD", "timeout": 120}]}))
        genv = {**os.environ, "GXBENCH_AD_PASSWORD": sambalab.ADMIN_PASSWORD, "PYTHONPATH": str(ROOT)}
        domain_sid = _domain_sid(dc, ca, genv)
        queries = floor_queries(PROFILE.base_dn, domain_sid)

        rows: dict[str, list[tuple[float, int]]] = {"gxpscan ad.*": [], "gxpscan collect only": [],
                                                    "ldapsearch floor": [], "access list alone": [],
                                                    "ad.* + access list": []}
        access_builds: dict[str, list[dict[str, float]]] = {"access list alone": [], "ad.* + access list": []}
        for run in range(args.runs):
            out = work / f"out{run}"
            w, rss, code = timed([sys.executable, "-m", "scanner", "scan", "--inventory", str(inventory),
                                  "--check", "ad.*", "--format", "json", "--output", str(out)], env=genv)
            rows["gxpscan ad.*"].append((w, rss))
            w, rss, _ = timed([sys.executable, "-c", COLLECT_ONLY, str(inventory)], env=genv)
            rows["gxpscan collect only"].append((w, rss))
            floor_dir = work / f"floor{run}"
            floor_dir.mkdir()
            rows["ldapsearch floor"].append(run_floor(dc, ca, pwfile, queries, floor_dir))
            for name, mode in (("access list alone", "alone"), ("ad.* + access list", "pack")):
                printed = work / f"access-{mode}{run}.json"
                with printed.open("wb") as sink:
                    w, rss, code = timed([sys.executable, "-c", ACCESS_SCAN, str(inventory), mode], env=genv,
                                         stdout=sink)
                if code != 0:
                    raise RuntimeError(f"access scan ({mode}) failed with exit code {code}")
                rows[name].append((w, rss))
                access_builds[name].append(json.loads(printed.read_text()))
        entries = sum(1 for line in (work / "floor0" / "q4.ldif").read_text().splitlines() if line.startswith("dn:"))
        report = {
            "users_created": args.users, "groups_created": args.groups, "user_entries_returned": entries,
            "provision_s": provisioned, "bulk_ldbadd_s": loaded, "dc_start_s": round(started, 1),
            "runs": args.runs, "ldapsearch_queries": len(queries),
            "results": {name: {"median_wall_s": round(statistics.median(w for w, _ in v), 2),
                               "min_wall_s": round(min(w for w, _ in v), 2),
                               "all_wall_s": [round(w, 2) for w, _ in v],
                               "peak_rss_mib": round(max(r for _, r in v) / 1024, 1)} for name, v in rows.items()},
        }
        g, f = (report["results"][k]["median_wall_s"] for k in ("gxpscan ad.*", "ldapsearch floor"))
        report["ratio_vs_floor"] = round(g / f, 2) if f else None
        # the machine may be shared: the fastest run of each side is the least disturbed estimate
        gmin, fmin = (report["results"][k]["min_wall_s"] for k in ("gxpscan ad.*", "ldapsearch floor"))
        report["ratio_vs_floor_min"] = round(gmin / fmin, 2) if fmin else None
        # issue 17: the access review against the AD pack's scan (the CLI run above), and the list's build time
        report["access_list"] = {name: {"median_build_s": round(statistics.median(b["build_s"] for b in v), 3),
                                        "accounts": v[0]["accounts"], "privileged": v[0]["privileged"]}
                                 for name, v in access_builds.items()}
        alone = report["results"]["access list alone"]["median_wall_s"]
        report["access_alone_vs_ad_pack"] = round(alone / g, 2) if g else None
        both = report["results"]["ad.* + access list"]["median_wall_s"]
        report["ad_pack_with_access_vs_ad_pack"] = round(both / g, 2) if g else None
        print(f"{'':22} {'median wall s':>14} {'min wall s':>11} {'peak RSS MiB':>13}")
        for name, r in report["results"].items():
            print(f"{name:22} {r['median_wall_s']:>14} {r['min_wall_s']:>11} {r['peak_rss_mib']:>13}")
        print(json.dumps(report, indent=2))
        return 0
    finally:
        dc.stop()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


def cache_key(users: int, groups: int) -> str:
    """What the loaded domain depends on: provisioning and shaping code, the bulk data, the sizes."""
    parts = [inspect.getsource(sambalab.SambaDC.provision), sambalab.SHAPE_SCRIPT, inspect.getsource(bulk_ldif),
             json.dumps(PROFILE.spec, sort_keys=True), f"{users}/{groups}/{BENCH_NET}"]
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


def build_domain(dc: sambalab.SambaDC, cache: Path, users: int, groups: int, rebuild: bool) -> tuple[str, str]:
    """Provision and bulk-load once; later runs reuse the offline domain (paths in smb.conf stay valid)."""
    ready = cache / "ready"
    key = cache_key(users, groups)
    if ready.exists() and ready.read_text().strip() == key and not rebuild:
        return "cached", "cached"
    shutil.rmtree(cache, ignore_errors=True)
    ca = make_ca(cache / "ca")
    t0 = time.perf_counter()
    dc.provision(ca)
    provisioned = time.perf_counter() - t0
    ldif = cache / "bulk.ldif"
    ldif.write_text(bulk_ldif(PROFILE.base_dn, users, groups))
    t0 = time.perf_counter()
    env = {**os.environ, "LDB_MODULES_PATH": "/usr/lib/x86_64-linux-gnu/samba/ldb"}
    subprocess.run(["ldbadd", "--nosync", "-H", str(dc.directory / "private" / "sam.ldb"), str(ldif)], check=True,
                   capture_output=True, env=env, timeout=3600)
    loaded = time.perf_counter() - t0
    ready.write_text(key + "\n")
    return f"{provisioned:.1f}", f"{loaded:.1f}"


def privileged_ldif(base: str) -> str:
    """Domain Admins > benchgroup000 > benchgroup001: 40 users privileged through one or two nested groups.

    ldbadd skips the ``changetype: modify`` record at the end of ``bulk_ldif`` (Domain Admins already exists), so
    the nesting is applied here, with ldbmodify, once per cached domain."""
    return (f"dn: CN=Domain Admins,CN=Users,{base}\nchangetype: modify\nadd: member\n"
            f"member: CN=benchgroup000,CN=Users,{base}\n\n"
            f"dn: CN=benchgroup000,CN=Users,{base}\nchangetype: modify\nadd: member\n"
            f"member: CN=benchgroup001,CN=Users,{base}\n")


def nest_privileged(dc: sambalab.SambaDC, cache: Path) -> None:
    ldif = privileged_ldif(PROFILE.base_dn)
    marker = cache / "nested"
    key = hashlib.sha256(ldif.encode()).hexdigest()
    if marker.exists() and marker.read_text().strip() == key:
        return
    path = cache / "nested.ldif"
    path.write_text(ldif)
    env = {**os.environ, "LDB_MODULES_PATH": "/usr/lib/x86_64-linux-gnu/samba/ldb"}
    subprocess.run(["ldbmodify", "-H", str(dc.directory / "private" / "sam.ldb"), str(path)], check=True,
                   capture_output=True, env=env, timeout=600)
    marker.write_text(key + "\n")


def _domain_sid(dc: sambalab.SambaDC, ca: Path, env: dict[str, str]) -> str:
    from scanner.collectors.ldap.ad import sid_to_str
    from scanner.connectors.ldap import LDAPConnector
    from scanner.model import Platform, Target

    os.environ["GXBENCH_AD_PASSWORD"] = env["GXBENCH_AD_PASSWORD"]
    target = Target("bench", Platform.LDAP, {"url": dc.ldaps_url, "ca_file": str(ca), "bind_dn": dc.admin_upn,
                                             "password_env": "GXBENCH_AD_PASSWORD"}, {})
    with LDAPConnector(target) as conn:
        head = conn.search_one(conn.base_dn or PROFILE.base_dn, ["objectSid"])
        if head is None:
            raise RuntimeError("domain head not readable")
        return sid_to_str(head.get("objectSid")[0])


if __name__ == "__main__":
    sys.exit(main())
