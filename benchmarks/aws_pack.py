"""Benchmark: gxpscan's AWS pack against Prowler on the same moto account, side by side.

    python3 benchmarks/aws_pack.py [--buckets 1000 --users 500 --volumes 300 --rds 100] [--no-prowler]

One moto server (``moto_server -H 127.0.0.1``) holds one account with the given numbers of S3 buckets,
IAM users, EBS volumes and RDS instances spread over three regions. Each tool runs as its own process
against it, pointed at the server (gxpscan: ``endpoint_url`` in the inventory; Prowler: ``AWS_ENDPOINT_URL``),
with the equivalent checks. Measured per tool: wall time, peak RSS of the tool's process tree
(``getrusage(RUSAGE_CHILDREN)`` in a wrapper process), and API requests as counted on the server side
(one werkzeug log line per request), so both tools are counted the same way.

Prowler is installed with pip into a separate venv under /tmp (``--prowler-venv``), only here.
IAM Access Analyzer is left out on both sides: moto does not implement it.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.lab import motolab  # noqa: E402

REGIONS = ("us-east-1", "eu-west-1", "ap-southeast-2")
ACCOUNT = "123456789012"

#: gxpscan check id -> the Prowler checks that give the same evidence.
EQUIVALENT = {
    "aws.iam.root_mfa": ["iam_root_mfa_enabled"],
    "aws.iam.root_access_keys": ["iam_no_root_access_key"],
    "aws.iam.user_mfa": ["iam_user_mfa_enabled_console_access"],
    "aws.iam.access_key_rotation": ["iam_rotate_access_key_90_days"],
    "aws.iam.unused_credentials": ["iam_user_accesskey_unused", "iam_user_console_access_unused"],
    "aws.iam.user_admin_policies": ["iam_user_administrator_access_policy",
                                    "iam_inline_policy_no_administrative_privileges"],
    "aws.iam.password_policy": ["iam_password_policy_minimum_length_14", "iam_password_policy_lowercase",
                                "iam_password_policy_uppercase", "iam_password_policy_number",
                                "iam_password_policy_symbol", "iam_password_policy_reuse_24",
                                "iam_password_policy_expires_passwords_within_90_days_or_less"],
    "aws.ec2.sg_admin_ports_open": ["ec2_securitygroup_allow_ingress_from_internet_to_tcp_port_22",
                                    "ec2_securitygroup_allow_ingress_from_internet_to_tcp_port_3389"],
    "aws.s3.public_access_block": ["s3_account_level_public_access_blocks", "s3_bucket_level_public_access_block"],
    "aws.s3.bucket_encryption": ["s3_bucket_default_encryption"],
    "aws.s3.secure_transport": ["s3_bucket_secure_transport_policy"],
    "aws.s3.versioning": ["s3_bucket_object_versioning"],
    "aws.s3.object_lock": ["s3_bucket_object_lock"],
    "aws.s3.access_logging": ["s3_bucket_server_access_logging_enabled"],
    "aws.ebs.default_encryption": ["ec2_ebs_default_encryption"],
    "aws.ebs.volume_encryption": ["ec2_ebs_volume_encryption"],
    "aws.rds.storage_encryption": ["rds_instance_storage_encrypted"],
    "aws.rds.backup_retention": ["rds_instance_backup_enabled"],
    "aws.rds.deletion_protection": ["rds_instance_deletion_protection"],
    "aws.kms.key_rotation": ["kms_cmk_rotation_enabled"],
    "aws.cloudtrail.multi_region": ["cloudtrail_multi_region_enabled_logging_management_events"],
    "aws.cloudtrail.log_validation": ["cloudtrail_log_file_validation_enabled"],
    "aws.cloudtrail.kms_encryption": ["cloudtrail_kms_encryption_enabled"],
    "aws.cloudtrail.bucket_not_public": ["cloudtrail_logs_s3_bucket_is_not_publicly_accessible"],
    "aws.backup.plan": ["backup_plans_exist", "backup_vaults_encrypted"],
    "aws.config.recorder": ["config_recorder_all_regions_enabled"],
    "aws.logs.retention": ["cloudwatch_log_group_retention_policy_specific_days_enabled"],
}

#: Run a command and report its peak RSS (KiB) and wall time as JSON on the last stderr line.
MEASURE = ("import json,resource,subprocess,sys,time;t=time.perf_counter();"
           "rc=subprocess.run(sys.argv[1:]).returncode;"
           "print(json.dumps({'rc':rc,'wall_s':time.perf_counter()-t,"
           "'peak_rss_kib':resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}),file=sys.stderr)")


def populate(lab: motolab.MotoServer, buckets: int, users: int, volumes: int, rds: int) -> dict[str, float]:
    """Fill the default account; returns seconds per resource type."""
    s = lab.session()
    timings: dict[str, float] = {}

    def timed(name: str, func: Any, items: range) -> None:
        start = time.perf_counter()
        with ThreadPoolExecutor(16) as pool:
            list(pool.map(func, items))
        timings[name] = time.perf_counter() - start

    clients: dict[tuple[str, str], Any] = {
        (svc, r): lab.client(s, svc, r) for svc in ("s3", "ec2", "rds", "kms", "logs") for r in REGIONS}
    clients[("iam", "us-east-1")] = lab.client(s, "iam")

    def bucket(i: int) -> None:
        region = REGIONS[i % 3]
        s3 = clients[("s3", region)]
        cfg = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
        name = f"bench-{i:05d}"
        s3.create_bucket(Bucket=name, **cfg)
        if i % 2:
            s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
        if i % 10 == 0:
            s3.put_bucket_tagging(Bucket=name, Tagging={"TagSet": [{"Key": "gxp", "Value": "records"}]})

    def user(i: int) -> None:
        iam = clients[("iam", "us-east-1")]
        name = f"user-{i:04d}"
        iam.create_user(UserName=name)
        if i % 2:
            iam.create_login_profile(UserName=name, Password="Bench-Password-1")
        if i % 3 == 0:
            iam.create_access_key(UserName=name)

    def volume(i: int) -> None:
        region = REGIONS[i % 3]
        clients[("ec2", region)].create_volume(AvailabilityZone=f"{region}a", Size=8, Encrypted=bool(i % 2))

    def db(i: int) -> None:
        region = REGIONS[i % 3]
        clients[("rds", region)].create_db_instance(
            DBInstanceIdentifier=f"db-{i:03d}", DBInstanceClass="db.t3.micro", Engine="postgres",
            MasterUsername="bench", MasterUserPassword="Bench-Password-1", AllocatedStorage=20,
            StorageEncrypted=bool(i % 2), BackupRetentionPeriod=i % 8, DeletionProtection=bool(i % 3))

    def regional(i: int) -> None:
        region = REGIONS[i]
        clients[("kms", region)].create_key(Description="bench")
        for g in range(5):
            clients[("logs", region)].create_log_group(logGroupName=f"/bench/{g}")

    timed("buckets", bucket, range(buckets))
    timed("users", user, range(users))
    timed("volumes", volume, range(volumes))
    timed("rds", db, range(rds))
    timed("regional", regional, range(len(REGIONS)))
    s3 = clients[("s3", "us-east-1")]
    s3.create_bucket(Bucket="bench-trail")
    lab.client(s, "cloudtrail").create_trail(Name="bench-trail", S3BucketName="bench-trail",
                                             IsMultiRegionTrail=True)
    return timings


#: An ANSI escape sequence (SGR colours and any other CSI), as werkzeug puts around non-200 request lines.
ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]")
#: The end of werkzeug's request log line: ``"METHOD PATH HTTP/1.1" STATUS SIZE``.
REQUEST_LINE = re.compile(r'HTTP/1\.[01]" \d{3} ')


def count_requests(lines: Iterable[str]) -> int:
    """Requests in a moto (werkzeug) log: one line each, whatever its status. werkzeug colours the request of
    every non-200 answer (404 yellow, other 4xx red, 5xx magenta), so colour codes are removed before matching."""
    return sum(1 for line in lines if REQUEST_LINE.search(ANSI.sub("", line)))


def request_count(lab: motolab.MotoServer) -> int:
    with open(lab.log_path, encoding="utf-8", errors="replace") as fh:
        return count_requests(fh)


def measured(cmd: list[str], env: dict[str, str], lab: motolab.MotoServer, log: Path) -> dict[str, Any]:
    before = request_count(lab)
    with open(log, "wb") as out:
        proc = subprocess.run([sys.executable, "-c", MEASURE, *cmd], env=env, stdout=out, stderr=subprocess.PIPE,
                              cwd=str(ROOT))
    time.sleep(0.5)  # let the server flush its request log
    stats: dict[str, Any] = json.loads(proc.stderr.decode().strip().splitlines()[-1])
    stats["api_requests"] = request_count(lab) - before
    stats["stderr_tail"] = proc.stderr.decode(errors="replace").strip().splitlines()[-6:-1]
    return stats


def tool_env(lab: motolab.MotoServer, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_ACCESS_KEY_ID=motolab.ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY=motolab.PLANTED_SECRET,
               AWS_DEFAULT_REGION="us-east-1", AWS_CONFIG_FILE=os.devnull, AWS_SHARED_CREDENTIALS_FILE=os.devnull,
               AWS_EC2_METADATA_DISABLED="true", **extra)
    return env


def run_gxpscan(lab: motolab.MotoServer, work: Path, workers: int) -> dict[str, Any]:
    import yaml

    inventory = work / "inventory.yaml"
    inventory.write_text(yaml.safe_dump({"version": 1, "targets": [{
        "name": "bench", "type": "aws", "endpoint_url": lab.endpoint, "regions": list(REGIONS),
        # records_tag "" puts every bucket in the records scope, as Prowler judges every bucket.
        "max_workers": workers, "policy": {"records_tag": ""}}]}))
    out = work / "gxpscan-out"
    checks = [a for cid in EQUIVALENT for a in ("--check", cid)]
    stats = measured([sys.executable, "-m", "scanner", "scan", "--inventory", str(inventory), *checks,
                      "--format", "json", "--output", str(out)], tool_env(lab), lab, work / "gxpscan.log")
    report = json.loads((out / "report.json").read_text())
    stats["findings"] = len(report["findings"])
    stats["counts"] = report["run"]["counts"]
    per_action: dict[str, int] = {}
    for ev in report["evidence"].values():
        for action, n in re.findall(r"([a-z0-9-]+:[A-Za-z]+) x(\d+)", ev.get("source") or ""):
            per_action[action] = per_action.get(action, 0) + int(n)
    stats["calls_by_action"] = dict(sorted(per_action.items()))
    return stats


def prowler_exe(venv: Path) -> Path:
    exe = venv / "bin" / "prowler"
    if not exe.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "prowler"], check=True)
    return exe


def run_prowler(lab: motolab.MotoServer, work: Path, venv: Path) -> dict[str, Any]:
    try:
        exe = prowler_exe(venv)
    except (subprocess.CalledProcessError, OSError) as exc:
        return {"skipped": f"prowler could not be installed: {exc}"}
    version = subprocess.run([str(exe), "--version"], capture_output=True, text=True).stdout.strip()
    out = work / "prowler-out"
    checks = sorted({c for cs in EQUIVALENT.values() for c in cs})
    stats = measured([str(exe), "aws", "--checks", *checks, "-f", *REGIONS, "--output-formats", "json-ocsf",
                      "-o", str(out), "--no-banner"], tool_env(lab, AWS_ENDPOINT_URL=lab.endpoint), lab,
                     work / "prowler.log")
    stats["version"] = version
    findings: list[dict[str, Any]] = []
    for path in out.glob("*.ocsf.json"):
        findings.extend(json.loads(path.read_text() or "[]"))
    stats["findings"] = len(findings)
    stats["counts"] = {s: sum(1 for f in findings if f.get("status_code") == s) for s in ("PASS", "FAIL", "MANUAL")}
    return stats


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--buckets", type=int, default=1000)
    p.add_argument("--users", type=int, default=500)
    p.add_argument("--volumes", type=int, default=300)
    p.add_argument("--rds", type=int, default=100)
    p.add_argument("--workers", type=int, default=16, help="gxpscan max_workers (per-resource concurrency)")
    p.add_argument("--no-prowler", action="store_true")
    p.add_argument("--prowler-venv", default="/tmp/prowler-venv")
    p.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    args = p.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="gxpscan-aws-bench-"))
    lab = motolab.start_moto(str(work), managed_policies=False)
    try:
        t0 = time.perf_counter()
        timings = populate(lab, args.buckets, args.users, args.volumes, args.rds)
        print(f"populated {args.buckets} buckets, {args.users} users, {args.volumes} volumes, {args.rds} RDS "
              f"instances over {', '.join(REGIONS)} in {time.perf_counter() - t0:.1f} s "
              f"({', '.join(f'{k} {v:.1f} s' for k, v in timings.items())})", flush=True)
        results = {"gxpscan": run_gxpscan(lab, work, args.workers)}
        print("gxpscan:", json.dumps({k: v for k, v in results["gxpscan"].items() if k != "stderr_tail"}),
              flush=True)
        if not args.no_prowler:
            results["prowler"] = run_prowler(lab, work, Path(args.prowler_venv))
            print("prowler:", json.dumps(results["prowler"]), flush=True)
    finally:
        lab.stop()
    print()
    print(f"{'tool':10} {'wall s':>8} {'API requests':>13} {'peak RSS MiB':>13} {'findings':>9}")
    for tool, r in results.items():
        if "wall_s" in r:
            print(f"{tool:10} {r['wall_s']:8.1f} {r['api_requests']:13d} {r['peak_rss_kib'] / 1024:13.0f} "
                  f"{r['findings']:9d}")
        else:
            print(f"{tool:10} {r.get('skipped')}")
    if "prowler" in results and "wall_s" in results["prowler"]:
        print(f"speed-up: {results['prowler']['wall_s'] / results['gxpscan']['wall_s']:.1f}x")
    if args.json:
        Path(args.json).write_text(json.dumps({"args": vars(args), "results": results}, indent=2))
    print(f"logs and outputs: {work}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
