"""Infrastructure as code: gxpscan ``scan --iac`` against Checkov on the same generated Terraform, side by side.

    python3 benchmarks/iac.py                      # the whole benchmark (installs Checkov on first use)
    python3 benchmarks/iac.py --skip-checkov       # gxpscan only (corpus, scaling)
    python3 benchmarks/iac.py --skip-checkov-plan  # Checkov on the HCL corpus only (its plan run is the long one)
    python3 benchmarks/iac.py --work DIR --json results.json
    python3 benchmarks/iac.py --runs 5             # each HCL run and the big plan's, both tools: median of 5

What it does, all under ``--work`` (default ``/tmp/gxpscan-bench-iac``):

1. Generates, deterministically, a Terraform corpus: 200 HCL files holding 2,000 resources (one directory, one
   module: split S3 resources may sit in another file than their bucket), and one plan JSON
   (``terraform show -json`` format 1.2) of 10,000 resources; plus plan JSONs of 1,000 / 2,000 / 5,000 / 10,000
   resources for the scaling figures. Compliant and non-compliant S3 buckets (provider v4+ split resources for
   encryption, versioning, public access block, logging), KMS keys, CloudTrail trails, RDS instances, EBS
   volumes and encryption by default, security groups (inline ingress and separate ingress rules) and the IAM
   account password policy, in a fixed mix.
2. Installs Checkov (``CHECKOV_VERSION``) in its own venv under the work directory, and only there.
3. Installs this checkout's gxpscan (``pip install``, not editable) in its own venv under the work directory, as
   Checkov is installed, and runs that ``gxpscan``: both tools start from a clean venv of the same Python, so
   neither pays for what the base interpreter's site-packages run at start-up (``.pth`` files: here an editable
   install's finder and an import of certifi, some 60 ms of every process). Deps are installed on first use; the
   code is reinstalled (``--no-deps``) on every run of the benchmark. ``--from-checkout`` measures the source tree
   with this Python instead (byte-compiled once, as before). Runs gxpscan once
   unmeasured (benchmarks/warm.py: byte code of every module it imports, the catalog cache, the entry points and
   the check-module index of the same ``--check`` selection) and validates each measured inventory once (the
   kept verdict: a CI job's second run on), then runs ``gxpscan scan`` and ``checkov`` on the same inputs,
   restricted to the equivalent checks (``CHECKS``),
   one after the other, measuring wall time (start to exit, noted by a thread waiting for the exit: until
   2026-12-03 it was taken at the next 50 ms memory sample, some 25 ms too long on average, 7% of a gxpscan run
   and nothing of Checkov's) and the peak memory of each tool's process tree (the sum of the resident set of the
   tool and its children, sampled every 50 ms, and the largest single process from ``wait4``). gxpscan's scan of
   code collects its facts in a child process while it starts (``scanner/prefetch.py``, since 2026-12-04): the
   child's CPU is in gxpscan's CPU time (``wait4`` counts the children a process waited for) and its memory in
   the tree's peak; gxpscan in one process (``GXPSCAN_PREFETCH=0``, "gxpscan hcl 1p") is measured beside it on the
   HCL corpus. The HCL corpus (every tool) and the big plan (gxpscan) run ``--runs`` times (default 3), each into
   its own output; the HCL runs of the tools take turns (gxpscan, gxpscan in one process, Checkov, gxpscan, ...:
   since 2026-12-03; before, all of gxpscan's ran minutes before Checkov's, and this machine's speed drifts by
   the minute). The figures are the medians of
   wall and CPU time and the largest peaks (one run of the same code varies by some 0.2 s on a shared machine),
   and the ratio of each pair of runs made in turn (its median and range); the verdicts are those of the first
   run.
4. Compares the verdicts per resource and equivalent check, counts agreement, and lists every disagreement with
   the resource and both verdicts.

Nothing here is a unit test: figures go to stdout (and ``--json``), and into the issue notes.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import warm  # noqa: E402

CHECKOV_VERSION = "3.3.30"
REPO = Path(__file__).resolve().parent.parent
ACCOUNT = "123456789012"
REGION = "us-east-1"

#: Our check id -> the Checkov checks that judge the same control, and what one judgement covers. "resource":
#: both judge each resource; "account": gxpscan judges the account (one finding), Checkov each resource, and
#: Checkov's account verdict is taken as pass when any of its resources passes every listed check.
CHECKS: dict[str, tuple[tuple[str, ...], str]] = {
    "aws.s3.bucket_encryption": (("CKV_AWS_19",), "resource"),
    "aws.s3.versioning": (("CKV_AWS_21",), "resource"),
    "aws.s3.public_access_block": (("CKV2_AWS_6",), "resource"),
    "aws.s3.access_logging": (("CKV_AWS_18",), "resource"),
    "aws.kms.key_rotation": (("CKV_AWS_7",), "resource"),
    "aws.cloudtrail.log_validation": (("CKV_AWS_36",), "resource"),
    "aws.cloudtrail.kms_encryption": (("CKV_AWS_35",), "resource"),
    "aws.cloudtrail.multi_region": (("CKV_AWS_67",), "account"),
    "aws.rds.storage_encryption": (("CKV_AWS_16",), "resource"),
    "aws.rds.backup_retention": (("CKV_AWS_133",), "resource"),
    "aws.rds.deletion_protection": (("CKV_AWS_293",), "resource"),
    "aws.ebs.volume_encryption": (("CKV_AWS_3",), "resource"),
    "aws.ebs.default_encryption": (("CKV_AWS_106",), "account"),
    "aws.ec2.sg_admin_ports_open": (("CKV_AWS_24", "CKV_AWS_25"), "resource"),
    "aws.iam.password_policy": (("CKV_AWS_9", "CKV_AWS_10", "CKV_AWS_11", "CKV_AWS_12", "CKV_AWS_13",
                                 "CKV_AWS_14", "CKV_AWS_15"), "account"),
}


# --- the corpus ----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Ref:
    """A reference to another resource's attribute (``aws_s3_bucket.b1.id``): unknown in a plan until applied."""

    expr: str


@dataclass
class Res:
    type: str
    name: str
    body: dict[str, Any]  # str | int | bool | list[str] | Ref | list[dict] (nested blocks)
    blocks: tuple[str, ...] = ()  # keys of body that are nested blocks
    owner: str = ""  # the address of the resource our findings are on (a split resource's bucket)

    @property
    def address(self) -> str:
        return f"{self.type}.{self.name}"


def _s3(i: int) -> list[Res]:
    name = f"b{i:05d}"
    bucket = Res("aws_s3_bucket", name, {"bucket": f"gxp-bench-{name}"})
    ref = Ref(f"aws_s3_bucket.{name}.id")
    out = [bucket]
    if i % 3 != 0:  # two buckets in three have an encryption resource
        algo = "aws:kms" if i % 2 else "AES256"
        out.append(Res("aws_s3_bucket_server_side_encryption_configuration", name, {"bucket": ref, "rule": [
            {"apply_server_side_encryption_by_default": [{"sse_algorithm": algo}]}]},
            blocks=("rule", "apply_server_side_encryption_by_default")))
    if i % 4 != 1:
        status = "Suspended" if i % 4 == 2 else "Enabled"
        out.append(Res("aws_s3_bucket_versioning", name, {"bucket": ref, "versioning_configuration": [
            {"status": status}]}, blocks=("versioning_configuration",)))
    if i % 5 != 2:
        off = i % 5 == 3  # one block setting off
        out.append(Res("aws_s3_bucket_public_access_block", name, {
            "bucket": ref, "block_public_acls": True, "block_public_policy": not off, "ignore_public_acls": True,
            "restrict_public_buckets": True}))
    if i % 2 == 0:
        out.append(Res("aws_s3_bucket_logging", name, {"bucket": ref, "target_bucket": "gxp-bench-access-logs",
                                                       "target_prefix": f"{name}/"}))
    for r in out:
        r.owner = bucket.address
    return out


def _kms(i: int) -> list[Res]:
    body: dict[str, Any] = {"description": f"bench key {i}"}
    if i % 3 != 2:
        body["enable_key_rotation"] = i % 3 == 0
    return [Res("aws_kms_key", f"k{i:05d}", body)]


def _trail(i: int) -> list[Res]:
    body: dict[str, Any] = {"name": f"trail-{i:05d}", "s3_bucket_name": "gxp-bench-trail-logs",
                            "enable_log_file_validation": i % 2 == 0, "is_multi_region_trail": i % 3 == 0}
    if i % 4 != 3:
        body["kms_key_id"] = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/00000000-0000-0000-0000-{i:012d}"
    return [Res("aws_cloudtrail", f"t{i:05d}", body)]


def _rds(i: int) -> list[Res]:
    return [Res("aws_db_instance", f"db{i:05d}", {
        "identifier": f"bench-db-{i:05d}", "engine": "postgres", "instance_class": "db.t3.micro",
        "allocated_storage": 20, "username": "bench", "manage_master_user_password": True,
        "storage_encrypted": i % 2 == 0, "backup_retention_period": (0, 3, 7, 14)[i % 4],
        "deletion_protection": i % 3 != 1})]


def _ebs(i: int) -> list[Res]:
    body: dict[str, Any] = {"availability_zone": f"{REGION}a", "size": 8}
    if i % 3 != 1:
        body["encrypted"] = i % 3 == 0
    return [Res("aws_ebs_volume", f"v{i:05d}", body)]


def _sg(i: int) -> list[Res]:
    name = f"sg{i:05d}"
    port = (22, 3389, 443, 22)[i % 4]
    cidr = "0.0.0.0/0" if i % 4 != 3 else "10.0.0.0/8"
    if i % 2 == 0:  # inline ingress
        return [Res("aws_security_group", name, {"name": f"bench-{name}", "description": "bench", "ingress": [
            {"from_port": port, "to_port": port, "protocol": "tcp", "cidr_blocks": [cidr],
             "description": "bench"}]}, blocks=("ingress",))]
    group = Res("aws_security_group", name, {"name": f"bench-{name}", "description": "bench"})
    rule = Res("aws_vpc_security_group_ingress_rule", name, {
        "security_group_id": Ref(f"aws_security_group.{name}.id"), "from_port": port, "to_port": port,
        "ip_protocol": "tcp", "cidr_ipv4": cidr}, owner=group.address)
    group.owner = group.address
    return [group, rule]


def _once() -> list[Res]:
    return [Res("aws_iam_account_password_policy", "strict", {
        "minimum_password_length": 14, "require_uppercase_characters": True, "require_lowercase_characters": True,
        "require_numbers": True, "require_symbols": True, "password_reuse_prevention": 24,
        "max_password_age": 90}),
        Res("aws_ebs_encryption_by_default", "this", {"enabled": True}),
        # the buckets the trails and the access logs write to, declared in the code like everything else
        *_s3_named("trail_logs", "gxp-bench-trail-logs"), *_s3_named("access_logs", "gxp-bench-access-logs")]


def _s3_named(name: str, bucket: str) -> list[Res]:
    """A compliant bucket (encrypted, versioned, public access blocked, logging to itself)."""
    ref = Ref(f"aws_s3_bucket.{name}.id")
    out = [Res("aws_s3_bucket", name, {"bucket": bucket}),
           Res("aws_s3_bucket_server_side_encryption_configuration", name, {"bucket": ref, "rule": [
               {"apply_server_side_encryption_by_default": [{"sse_algorithm": "aws:kms"}]}]},
               blocks=("rule", "apply_server_side_encryption_by_default")),
           Res("aws_s3_bucket_versioning", name, {"bucket": ref, "versioning_configuration": [{"status": "Enabled"}]},
               blocks=("versioning_configuration",)),
           Res("aws_s3_bucket_public_access_block", name, {
               "bucket": ref, "block_public_acls": True, "block_public_policy": True, "ignore_public_acls": True,
               "restrict_public_buckets": True}),
           Res("aws_s3_bucket_logging", name, {"bucket": ref, "target_bucket": "gxp-bench-access-logs",
                                               "target_prefix": f"{name}/"})]
    for r in out:
        r.owner = f"aws_s3_bucket.{name}"
    return out


KINDS = (_s3, _s3, _s3, _kms, _trail, _rds, _ebs, _sg, _sg, _kms)


def resources(n: int) -> list[Res]:
    """The first ``n`` resources of the corpus (the same prefix whatever ``n``)."""
    out, counters = _once(), Counter[int]()
    k = 0
    while len(out) < n:
        kind = KINDS[k % len(KINDS)]
        i = counters[id(kind)]
        counters[id(kind)] += 1
        out.extend(kind(i))
        k += 1
    return out[:n]


def _hcl_value(v: Any) -> str:
    if isinstance(v, Ref):
        return v.expr
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, list):
        return "[" + ", ".join(_hcl_value(x) for x in v) + "]"
    return json.dumps(v)


def _hcl_body(body: dict[str, Any], blocks: tuple[str, ...], indent: str) -> Iterator[str]:
    for key, value in body.items():
        if key in blocks:
            for item in value:
                yield f"{indent}{key} {{"
                yield from _hcl_body(item, blocks, indent + "  ")
                yield f"{indent}}}"
        else:
            yield f"{indent}{key} = {_hcl_value(value)}"


def hcl(res: Res) -> str:
    return "\n".join([f'resource "{res.type}" "{res.name}" {{', *_hcl_body(res.body, res.blocks, "  "), "}", ""])


def write_hcl(dest: Path, items: list[Res], files: int) -> dict[str, tuple[str, int, int]]:
    """The corpus as ``files`` .tf files in one directory; returns address -> (file, first line, last line)."""
    dest.mkdir(parents=True, exist_ok=True)
    where: dict[str, tuple[str, int, int]] = {}
    per = -(-len(items) // files)
    provider = f'provider "aws" {{\n  region = "{REGION}"\n}}\n'
    for f in range(files):
        chunk = items[f * per:(f + 1) * per]
        name = f"main_{f:03d}.tf"
        text, line = (provider + "\n") if f == 0 else "", 1
        line += text.count("\n")
        for r in chunk:
            block = hcl(r)
            where[r.address] = (name, line, line + block.count("\n") - 1)
            text += block + "\n"
            line += block.count("\n") + 1
        (dest / name).write_text(text, encoding="utf-8")
    return where


def _plan_values(body: dict[str, Any], blocks: tuple[str, ...]) -> tuple[dict[str, Any], dict[str, Any]]:
    values: dict[str, Any] = {}
    unknown: dict[str, Any] = {}
    for key, value in body.items():
        if isinstance(value, Ref):
            unknown[key] = True
        elif key in blocks:
            pairs = [_plan_values(item, blocks) for item in value]
            values[key] = [p[0] for p in pairs]
            if any(p[1] for p in pairs):
                unknown[key] = [p[1] for p in pairs]
        else:
            values[key] = value
    return values, unknown


def _plan_expressions(body: dict[str, Any], blocks: tuple[str, ...]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in body.items():
        if isinstance(value, Ref):
            out[key] = {"references": [value.expr, value.expr.rsplit(".", 1)[0]]}
        elif key in blocks:
            out[key] = [_plan_expressions(item, blocks) for item in value]
        else:
            out[key] = {"constant_value": value}
    return out


def plan(items: list[Res]) -> dict[str, Any]:
    """A plan as ``terraform show -json`` writes it (format 1.2): planned values, resource changes (create),
    configuration with references. Values that reference another resource are unknown until apply."""
    planned, changes, config = [], [], []
    for r in items:
        values, unknown = _plan_values(r.body, r.blocks)
        common = {"address": r.address, "mode": "managed", "type": r.type, "name": r.name,
                  "provider_name": "registry.terraform.io/hashicorp/aws"}
        planned.append({**common, "schema_version": 0, "values": values, "sensitive_values": {}})
        changes.append({**common, "change": {"actions": ["create"], "before": None, "after": values,
                                             "after_unknown": unknown, "before_sensitive": False,
                                             "after_sensitive": {}}})
        config.append({"address": r.address, "mode": "managed", "type": r.type, "name": r.name,
                       "provider_config_key": "aws", "expressions": _plan_expressions(r.body, r.blocks),
                       "schema_version": 0})
    return {"format_version": "1.2", "terraform_version": "1.9.8",
            "planned_values": {"root_module": {"resources": planned}},
            "resource_changes": changes,
            "configuration": {"provider_config": {"aws": {"name": "aws", "full_name":
                                                          "registry.terraform.io/hashicorp/aws",
                                                          "expressions": {"region": {"constant_value": REGION}}}},
                              "root_module": {"resources": config}},
            "timestamp": "2026-12-01T00:00:00Z", "applyable": True, "complete": True, "errored": False}


# --- running and measuring -----------------------------------------------------------------------------------

def _tree_rss(root: int) -> int:
    """Resident bytes of ``root`` and all its descendants (from /proc)."""
    parents: dict[int, int] = {}
    rss: dict[int, int] = {}
    page = os.sysconf("SC_PAGE_SIZE")
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as fh:
                stat = fh.read().decode("ascii", "replace")
            with open(f"/proc/{entry}/statm", "rb") as fh:
                rss[int(entry)] = int(fh.read().split()[1]) * page
        except (OSError, IndexError, ValueError):
            continue
        parents[int(entry)] = int(stat.rsplit(")", 1)[1].split()[1])
    tree, frontier = {root}, [root]
    while frontier:
        pid = frontier.pop()
        kids = [p for p, pp in parents.items() if pp == pid and p not in tree]
        tree.update(kids)
        frontier.extend(kids)
    return sum(rss.get(p, 0) for p in tree)


@dataclass
class Measured:
    wall_s: float
    cpu_s: float  # user + system seconds of the tool and every child it waited for (robust to a busy machine)
    peak_tree_mib: float
    peak_process_mib: float
    exit_code: int
    stderr_tail: str = ""
    runs: int = 1


def median_run(measured: list[Measured]) -> Measured:
    """Several runs of one tool on one input as one: median wall and CPU time, the largest peaks, the first run's
    exit code and stderr (the runs are checked to agree on the exit code)."""
    codes = {m.exit_code for m in measured}
    if len(codes) != 1:
        raise RuntimeError(f"runs of one tool on one input ended with different exit codes: {sorted(codes)}")
    first = measured[0]
    return Measured(round(statistics.median(m.wall_s for m in measured), 3),
                    round(statistics.median(m.cpu_s for m in measured), 3),
                    max(m.peak_tree_mib for m in measured), max(m.peak_process_mib for m in measured),
                    first.exit_code, first.stderr_tail, len(measured))


def _nth(out: Path, i: int) -> Path:
    """The output of run ``i`` (from 0): ``out``, then ``out-2``, ``out-3``, ..."""
    return out if i == 0 else out.with_name(f"{out.name}-{i + 1}")


def repeated(measure_once: Callable[[Path], Measured], out: Path, runs: int) -> Measured:
    """``measure_once`` into ``out`` and then into ``out-2``, ``out-3``, ...: the median of ``runs`` runs."""
    return median_run([measure_once(_nth(out, i)) for i in range(runs)])


def in_turn(tools: list[tuple[Callable[[Path], Measured], Path]], runs: int) -> list[list[Measured]]:
    """Each tool ``runs`` times, in turn (gxpscan, gxpscan in one process, Checkov, gxpscan, ...), each into its own
    outputs: on a shared machine whose speed drifts by the minute, the runs of one round meet the same state (run
    one after the other, the tools' medians were taken minutes apart, and their ratio swung from 12x to 22x within
    one hour on the same code). The runs of each tool, in the order of ``tools``."""
    measured: list[list[Measured]] = [[] for _ in tools]
    for i in range(runs):
        for (once, out), got in zip(tools, measured, strict=True):
            got.append(once(_nth(out, i)))
    return measured


def pair_ratios(ours: list[Measured], theirs: list[Measured], what: str) -> list[float]:
    """Theirs over ours, ``what`` (wall_s or cpu_s), for each pair of runs made in turn."""
    return [getattr(t, what) / max(getattr(o, what), 0.01) for o, t in zip(ours, theirs, strict=True)]


def measure(argv: list[str], env: dict[str, str] | None = None, cwd: Path | None = None) -> Measured:
    """One run of ``argv``: its wall time from start to exit (a thread waits for the exit and notes the time, so the
    figure is exact, not rounded up to the next memory sample), its CPU time and the peak memory of its tree
    (sampled every 50 ms)."""
    started = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, cwd=cwd)
    assert proc.stderr is not None
    os.set_blocking(proc.stderr.fileno(), False)
    ended: list[tuple[float, int, Any]] = []
    exited = threading.Event()

    def reap() -> None:
        _, status, usage = os.wait4(proc.pid, 0)
        ended.append((time.perf_counter(), status, usage))
        exited.set()

    reaper = threading.Thread(target=reap, name="reaper", daemon=True)
    reaper.start()
    peak, err = 0, bytearray()
    while not exited.is_set():
        chunk = proc.stderr.read()
        if chunk:
            err.extend(chunk[-20000:])
        peak = max(peak, _tree_rss(proc.pid))
        exited.wait(0.05)
    reaper.join()
    at, status, usage = ended[0]
    proc.returncode = os.waitstatus_to_exitcode(status)
    rest = proc.stderr.read()
    if rest:
        err.extend(rest)
    return Measured(round(at - started, 3), round(usage.ru_utime + usage.ru_stime, 3), round(peak / 2**20, 1),
                    round(usage.ru_maxrss / 1024, 1), proc.returncode, err[-1500:].decode("utf-8", "replace"))


def checkov_bin(work: Path) -> Path:
    venv = work / "checkov-venv"
    exe = venv / "bin" / "checkov"
    if not exe.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(venv / "bin" / "pip"), "install", "-q", f"checkov=={CHECKOV_VERSION}"], check=True)
    return exe


def write_inventory(paths: list[Path], inventory: Path) -> Path:
    """The inventory of one code target: rather than ``--iac`` only to raise max_file_bytes (a plan of 10,000
    resources is about 10 MiB, over the 8 MiB default)."""
    inventory.parent.mkdir(parents=True, exist_ok=True)
    inventory.write_text(json.dumps({"version": 1, "targets": [{
        "name": "bench", "type": "iac", "path": [str(p) for p in paths], "max_file_bytes": 256 * 2**20}]}),
        encoding="utf-8")
    return inventory


@dataclass(frozen=True)
class Gxpscan:
    """How the benchmark runs gxpscan: the command, the Python it runs on and the environment of its processes."""

    command: tuple[str, ...]
    python: str
    env: dict[str, str]


def installed_gxpscan(work: Path) -> Gxpscan:
    """This checkout installed by pip (not editable) in ``work/gxpscan-venv``, as Checkov is in its own venv: deps
    on first use, the code again on every call. Its processes keep their caches under ``work``."""
    venv = work / "gxpscan-venv"
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    if not (venv / "bin" / "python").exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([*pip, str(REPO)], check=True)
    subprocess.run([*pip, "--no-deps", "--force-reinstall", str(REPO)], check=True)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONPYCACHEPREFIX", "PYTHONHOME")}
    return Gxpscan((str(venv / "bin" / "gxpscan"),), str(venv / "bin" / "python"),
                   {**env, "XDG_CACHE_HOME": str(work / "cache-installed")})


def checkout_gxpscan(work: Path) -> Gxpscan:
    """The source tree run by this Python (``--from-checkout``), byte code and caches under ``work``."""
    return Gxpscan((sys.executable, "-m", "scanner"), sys.executable, warm.gxpscan_env(work))


def scan_argv(gx: Gxpscan, inventory: Path, out: Path, *extra: str) -> list[str]:
    """``gxpscan scan`` of an inventory, restricted to the equivalent checks (``CHECKS``), JSON report."""
    argv = [*gx.command, "scan", "--quiet", *extra, "--format", "json", "--output", str(out),
            "--inventory", str(inventory)]
    for check in CHECKS:
        argv += ["--check", check]
    return argv


def run_gxpscan(gx: Gxpscan, paths: list[Path], out: Path, work: Path) -> Measured:
    """``gxpscan scan`` of one code target (run record, seal, history and report written in full). Every run, the
    unmeasured one too, starts in ``work``: ``python -m`` puts the working directory on ``sys.path``, and the kept
    entry points are read again when ``sys.path`` changes."""
    inventory = write_inventory(paths, out.parent / f"{out.name}.inventory.json")
    return measure(scan_argv(gx, inventory, out), env=gx.env, cwd=work)


#: Validates inventories (gxpscan keeps the verdict of each valid document: scanner/schemacache.py).
VALIDATE = "import sys; from scanner.inventory import load_inventory; [load_inventory(p) for p in sys.argv[1:]]"


def warm_gxpscan(gx: Gxpscan, work: Path, measured: list[list[Path]]) -> None:
    """What an installed gxpscan that scanned this code before has, before anything is measured (benchmarks/warm.py):
    byte code, the catalog cache, the check plugins' entry points and the index of the check modules (one
    unmeasured scan of the first HCL file with the same ``--check`` selection), and the verdict on each measured
    inventory (each validated once). A CI job scanning the same repository with the same inventory starts so from
    its second run on; its first run also validates the inventory (jsonschema) and imports every AWS check module."""
    first = sorted((work / "hcl").glob("*.tf"))[0]
    out = work / "warm-up" / time.strftime("%Y%m%dT%H%M%S")
    argv = scan_argv(gx, write_inventory([first], out.parent / "first.inventory.json"), out, "--no-history")
    if gx.command[0] == sys.executable:  # pip compiled the installed code; byte-compile the source tree
        subprocess.run([sys.executable, "-m", "compileall", "-q", "scanner", "reports", "checks"], check=True,
                       cwd=REPO, env=gx.env, stdout=subprocess.DEVNULL)
    subprocess.run(argv, cwd=work, env=gx.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    inventories = [write_inventory(paths, out.parent / f"measured-{i}.inventory.json")
                   for i, paths in enumerate(measured)]
    subprocess.run([gx.python, "-c", VALIDATE, *map(str, inventories)], cwd=work, env=gx.env, check=True)


def run_checkov(exe: Path, what: list[str], out: Path) -> Measured:
    ids = sorted({c for ours, _ in CHECKS.values() for c in ours})
    out.mkdir(parents=True, exist_ok=True)
    argv = [str(exe), *what, "--check", ",".join(ids), "--output", "json", "--output-file-path", str(out),
            "--compact", "--skip-download", "--download-external-modules", "false",
            "--skip-results-upload"]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "BC_", "CKV_", "PRISMA_"))}
    env.update({"BC_SKIP_MAPPING": "TRUE", "CHECKOV_RUN_SCA_PACKAGE_SCAN_V2": "false", "LOG_LEVEL": "ERROR"})
    return measure(argv, env=env)


# --- verdicts ------------------------------------------------------------------------------------------------

@dataclass
class Verdicts:
    """check id -> resource address -> verdict (pass, fail, error, unknown, ...)."""

    by_check: dict[str, dict[str, str]] = field(default_factory=lambda: defaultdict(dict))


def ours(report: Path, where: dict[tuple[str, int], str], items: dict[str, Res]) -> Verdicts:
    """gxpscan's findings keyed by the address of the resource they name: by file and first line (HCL), else
    by the address or name the finding's resource carries."""
    doc = json.loads(report.read_text(encoding="utf-8"))
    names = {str(r.body.get("bucket") or r.body.get("name") or r.body.get("identifier") or ""): a
             for a, r in items.items() if r.owner in ("", a)}
    names.pop("", None)
    out = Verdicts()
    for f in doc["findings"]:
        address = None
        loc = f.get("location")
        if loc and loc.get("start_line") is not None:
            address = where.get((Path(loc["path"]).name, loc["start_line"]))
        if address is None:
            resource = f["resource"]
            address = next((a for a in (resource, resource.rsplit(":", 1)[-1], resource.rsplit("/", 1)[-1])
                            if a in items), None) or names.get(resource.rsplit(":", 1)[-1].rsplit("/", 1)[-1])
        key = address or f"(account) {f['resource']}"
        out.by_check[f["check"]][key] = f["status"]
    return out


def theirs(report_dir: Path) -> Verdicts:
    out = Verdicts()
    for path in sorted(report_dir.glob("*.json")):
        doc = json.loads(path.read_text(encoding="utf-8"))
        for part in doc if isinstance(doc, list) else [doc]:
            results = part.get("results", {}) if isinstance(part, dict) else {}
            for verdict, key in (("pass", "passed_checks"), ("fail", "failed_checks"), ("skip", "skipped_checks")):
                for r in results.get(key, []):
                    address = r["resource"].rsplit("module.", 1)[-1]
                    prior = out.by_check[r["check_id"]].get(address)
                    out.by_check[r["check_id"]][address] = "fail" if "fail" in (prior, verdict) else verdict
    return out


def compare(ours_v: Verdicts, theirs_v: Verdicts, items: dict[str, Res]) -> dict[str, Any]:
    agree, disagree, listing = Counter[str](), Counter[str](), []
    for check, (ids, scope) in CHECKS.items():
        mine = ours_v.by_check.get(check, {})
        if scope == "account":
            addresses = {a for i in ids for a in theirs_v.by_check.get(i, {})}
            theirs_verdict = "pass" if any(all(theirs_v.by_check.get(i, {}).get(a) == "pass" for i in ids)
                                           for a in addresses) else ("fail" if addresses else "none")
            mine_verdicts = set(mine.values())
            mine_verdict = "pass" if mine_verdicts == {"pass"} else ("fail" if "fail" in mine_verdicts else
                                                                     ",".join(sorted(mine_verdicts)) or "none")
            pairs = [("(account)", mine_verdict, theirs_verdict)]
        else:
            # Checkov judges a split resource (a separate ingress rule) on its own: its verdict is its owner's
            owned: dict[str, list[str]] = defaultdict(list)
            for i in ids:
                for a, v in theirs_v.by_check.get(i, {}).items():
                    owned[items[a].owner or a if a in items else a].append(v)
            pairs = []
            for a in sorted(set(mine) | set(owned)):
                got = owned.get(a, [])
                t = "fail" if "fail" in got else ("pass" if got and all(g == "pass" for g in got) else
                                                  ",".join(sorted(set(got))) or "none")
                pairs.append((a, mine.get(a, "none"), t))
        for address, m, t in pairs:
            if m == t:
                agree[check] += 1
            else:
                disagree[check] += 1
                listing.append({"check": check, "checkov": "+".join(ids), "resource": address,
                                "gxpscan": m, "checkov_verdict": t})
    return {"agree": dict(agree), "disagree": dict(disagree), "agree_total": sum(agree.values()),
            "disagree_total": sum(disagree.values()), "disagreements": listing}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", default="/tmp/gxpscan-bench-iac", help="work directory (corpus, venv, outputs)")
    ap.add_argument("--files", type=int, default=200)
    ap.add_argument("--resources", type=int, default=2000, help="resources of the HCL corpus")
    ap.add_argument("--plan-resources", type=int, default=10000)
    ap.add_argument("--sizes", default="1000,2000,5000,10000", help="plan sizes for the scaling figures")
    ap.add_argument("--skip-checkov", action="store_true")
    ap.add_argument("--skip-checkov-plan", action="store_true",
                    help="Checkov on the HCL corpus only (its plan run takes some 240 s CPU)")
    ap.add_argument("--json", metavar="FILE", help="write the figures as JSON")
    ap.add_argument("--runs", type=int, default=3, help="measured runs of the HCL corpus and the big plan (median)")
    ap.add_argument("--from-checkout", action="store_true",
                    help="run gxpscan from this source tree with this Python instead of installed in its own venv")
    args = ap.parse_args()

    work = Path(args.work)
    runs = work / "runs" / time.strftime("%Y%m%dT%H%M%S")
    hcl_items = resources(args.resources)
    where_hcl = write_hcl(work / "hcl", hcl_items, args.files)
    sizes = sorted({int(s) for s in args.sizes.split(",") if s} | {args.plan_resources})
    for n in sizes:
        target = work / f"plan-{n}.json"
        if not target.exists():
            target.write_text(json.dumps(plan(resources(n)), separators=(",", ":")), encoding="utf-8")
    big_plan = work / f"plan-{args.plan_resources}.json"
    print(f"corpus: {args.files} HCL files, {len(hcl_items)} resources ({work / 'hcl'}); "
          f"plan JSON of {args.plan_resources} resources ({big_plan}, {big_plan.stat().st_size // 1024} KiB)")

    figures: dict[str, Any] = {"checkov_version": CHECKOV_VERSION, "hcl_resources": len(hcl_items),
                               "hcl_files": args.files, "plan_resources": args.plan_resources, "runs": {}}
    gx = checkout_gxpscan(work) if args.from_checkout else installed_gxpscan(work)
    figures["gxpscan"] = ("this checkout's source tree" if args.from_checkout
                          else f"installed in {work / 'gxpscan-venv'}")
    warm_gxpscan(gx, work, [[work / "hcl"], *([work / f"plan-{n}.json"] for n in sizes)])

    one_process = replace(gx, env={**gx.env, "GXPSCAN_PREFETCH": "0"})  # no child collecting (scanner/prefetch.py)
    tools = [(lambda out: run_gxpscan(gx, [work / "hcl"], out, work), runs / "gx-hcl"),
             (lambda out: run_gxpscan(one_process, [work / "hcl"], out, work), runs / "gx1-hcl")]
    if not args.skip_checkov:
        exe = checkov_bin(work)
        tools.append((lambda out: run_checkov(exe, ["-d", str(work / "hcl"), "--framework", "terraform"], out),
                      runs / "ck-hcl"))
    measured = in_turn(tools, args.runs)  # the HCL runs of every tool in turn, then the plans
    gx_hcl, gx1_hcl = median_run(measured[0]), median_run(measured[1])
    if not args.skip_checkov:
        ck_hcl = median_run(measured[2])
        for kind, ours_runs in (("hcl", measured[0]), ("hcl_one_process", measured[1])):
            figures[f"pairs_{kind}"] = {what: [round(r, 1) for r in pair_ratios(ours_runs, measured[2], what)]
                                        for what in ("wall_s", "cpu_s")}
    gx_plan = repeated(lambda out: run_gxpscan(gx, [big_plan], out, work), runs / "gx-plan", args.runs)
    figures["runs"]["gxpscan hcl"] = vars(gx_hcl)
    figures["runs"]["gxpscan hcl 1p"] = vars(gx1_hcl)
    figures["runs"]["gxpscan plan"] = vars(gx_plan)
    scaling = {}
    for n in sizes:
        m = (gx_plan if n == args.plan_resources
             else run_gxpscan(gx, [work / f"plan-{n}.json"], runs / f"gx-plan-{n}", work))
        scaling[n] = {"wall_s": m.wall_s, "cpu_s": m.cpu_s, "cpu_per_1000_s": round(m.cpu_s / n * 1000, 3),
                      "peak_tree_mib": m.peak_tree_mib}
    figures["scaling"] = scaling

    if not args.skip_checkov:
        figures["runs"]["checkov hcl"] = vars(ck_hcl)
        items_hcl = {r.address: r for r in hcl_items}
        by_line = {(f, s): a for a, (f, s, _) in where_hcl.items()}
        figures["agreement_hcl"] = compare(ours(runs / "gx-hcl" / "report.json", by_line, items_hcl),
                                           theirs(runs / "ck-hcl"), items_hcl)
    if not args.skip_checkov and not args.skip_checkov_plan:
        ck_plan = run_checkov(exe, ["-f", str(big_plan), "--framework", "terraform_plan",
                                    "--repo-root-for-plan-enrichment", str(work / "hcl")], runs / "ck-plan")
        figures["runs"]["checkov plan"] = vars(ck_plan)
        items_plan = {r.address: r for r in resources(args.plan_resources)}
        figures["agreement_plan"] = compare(ours(runs / "gx-plan" / "report.json", {}, items_plan),
                                            theirs(runs / "ck-plan"), items_plan)

    print(f"\n{'run':16} {'wall s':>8} {'cpu s':>8} {'peak tree MiB':>14} {'peak proc MiB':>14} {'exit':>5} "
          f"{'runs':>5}")
    for name, r in figures["runs"].items():
        print(f"{name:16} {r['wall_s']:8.3f} {r['cpu_s']:8.3f} {r['peak_tree_mib']:14.1f} "
              f"{r['peak_process_mib']:14.1f} {r['exit_code']:5d} {r['runs']:5d}")
    for kind, ours_name, theirs_name in (("hcl", "gxpscan hcl", "checkov hcl"),
                                         ("hcl_one_process", "gxpscan hcl 1p", "checkov hcl"),
                                         ("plan", "gxpscan plan", "checkov plan")):
        if theirs_name in figures["runs"]:
            ck, gx = figures["runs"][theirs_name], figures["runs"][ours_name]
            wall, cpu = ck["wall_s"] / max(gx["wall_s"], 0.01), ck["cpu_s"] / max(gx["cpu_s"], 0.01)
            figures[f"speedup_{kind}"] = {"wall": round(wall, 1), "cpu": round(cpu, 1)}
            print(f"{kind}: gxpscan {wall:.1f}x faster than Checkov in wall time, {cpu:.1f}x in CPU time "
                  "(goal >= 20x)")
            pairs = figures.get(f"pairs_{kind}")
            if pairs:
                for what, label in (("wall_s", "wall"), ("cpu_s", "CPU")):
                    r = pairs[what]
                    print(f"  {label} ratio of each pair of runs made in turn: median {statistics.median(r):.1f}x, "
                          f"{min(r):.1f}x to {max(r):.1f}x")
    print("\nscaling (plan JSON):")
    for n, sc in scaling.items():
        print(f"  {n:6d} resources: {sc['wall_s']:6.3f} s wall, {sc['cpu_s']:6.3f} s CPU "
              f"({sc['cpu_per_1000_s']:.3f} s CPU per 1,000), {sc['peak_tree_mib']:.0f} MiB")
    for kind in ("hcl", "plan"):
        a = figures.get(f"agreement_{kind}")
        if a:
            print(f"\nverdict agreement ({kind}): {a['agree_total']} agree, {a['disagree_total']} disagree")
            for check in CHECKS:
                print(f"  {check:32} agree {a['agree'].get(check, 0):5d}  disagree {a['disagree'].get(check, 0):5d}")
            kinds = Counter((d["check"], d["gxpscan"], d["checkov_verdict"]) for d in a["disagreements"])
            for (check, m, t), count in sorted(kinds.items()):
                example = next(d["resource"] for d in a["disagreements"]
                               if (d["check"], d["gxpscan"], d["checkov_verdict"]) == (check, m, t))
                print(f"    {check}: gxpscan {m} / Checkov {t}: {count} (e.g. {example})")
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2, default=str), encoding="utf-8")
    for name, r in figures["runs"].items():
        if r["exit_code"] not in (0, 1, 3):
            print(f"\n{name} exited {r['exit_code']}: {r['stderr_tail']}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
