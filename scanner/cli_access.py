"""``gxpscan access-review``: collect (or read from a run) every system's access list, compare it with the previous
approved review, write the review directory and seal it; ``gxpscan access-review decide`` records the reviewer's
decisions and signs.

Registered by scanner.cli (``register``); everything heavy is imported when a command runs.
"""
from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from scanner.access.model import SystemAccess
    from scanner.access.review import Review
    from scanner.model import RunInfo
    from scanner.store import RecordWriter

DECIDE = "decide"
#: Changes printed on the console (every one is in the review's files).
SHOWN_CHANGES = 200

EPILOG = """usage forms:
  gxpscan access-review INVENTORY -o DIR [--previous REVIEW_DIR]     collect from the targets (no checks run)
  gxpscan access-review --from-run RUN_DIR -o DIR [--inventory INV]  read the access lists of a finished run
  gxpscan access-review decide REVIEW_DIR --decisions FILE --name NAME --meaning TEXT --key KEY
                                                                     record the decisions (CSV or YAML) and sign

exit codes: 0 done; 1 an account decided "remove" in the previous review is still present (a finding); 2 bad input
(inventory, decisions, a previous review that is not approved); 3 a system's access list could not be had (error,
fail closed) or a target has none; 4 could not write; 6 a run or review that is not intact"""


def register(sub: Any) -> None:
    a = sub.add_parser("access-review", formatter_class=argparse.RawDescriptionHelpFormatter, epilog=EPILOG,
                       help="periodic access review: every account, privileged or not and why, changes since the "
                            "previous approved review, decisions and signature")
    a.set_defaults(func=cmd_access_review)
    a.add_argument("paths", nargs="*", metavar="INVENTORY | decide REVIEW_DIR",
                   help="the inventory to collect from; or `decide` and the review directory")
    a.add_argument("--output", "-o", metavar="DIR", help="the new review directory")
    a.add_argument("--from-run", metavar="RUN_DIR", help="read the access lists of this run (verified when sealed) "
                                                         "instead of connecting")
    a.add_argument("--inventory", "-i", metavar="FILE",
                   help="with --from-run: the inventory whose targets must all have a list, and their policy")
    a.add_argument("--previous", metavar="REVIEW_DIR", help="the previous approved review (verified, decided, signed)")
    a.add_argument("--operator-name", metavar="NAME", help="printed name of the operator (default $GXPSCAN_OPERATOR)")
    a.add_argument("--sign-key", metavar="FILE", help="sign the seal (manifest) of the review with this Ed25519 key")
    a.add_argument("--sign-key-passphrase-env", metavar="NAME", help="environment variable holding its passphrase")
    a.add_argument("--pubkey", action="append", default=[], metavar="FILE",
                   help="trusted public key(s) the run, the previous review or the review to decide must verify "
                        "against (repeatable)")
    a.add_argument("--decisions", metavar="FILE", help="decide: the filled-in access-review.csv, or a YAML list")
    a.add_argument("--name", help="decide: the signer's printed name")
    a.add_argument("--meaning", help='decide: what the signature means, e.g. "Access reviewed; decisions approved"')
    a.add_argument("--role", choices=["reviewer", "approver"], default="reviewer", help="decide: (default reviewer)")
    a.add_argument("--key", metavar="FILE", help="decide: the signer's Ed25519 private key")
    a.add_argument("--key-passphrase-env", metavar="NAME", help="decide: environment variable holding its passphrase")
    a.add_argument("--quiet", "-q", action="store_true", help="print only the summary")


def _cli() -> Any:
    from scanner import cli

    return cli


def _say(message: str) -> None:
    from reports.text import for_terminal

    print(f"gxpscan: {for_terminal(message)}", file=sys.stderr)


def _refuse(cli: Any, exc: Any) -> int:
    from reports.text import for_terminal

    _say(str(exc))
    for p in exc.problems:
        print(f"  {for_terminal(p)}", file=sys.stderr)
    return int(cli.EXIT_NOT_INTACT if not exc.intact else cli.EXIT_INPUT)


def _unused(args: argparse.Namespace, names: Sequence[str], mode: str) -> None:
    given = [n for n in names if getattr(args, n.replace("-", "_")) not in (None, [], False)]
    if given:
        raise _cli().UsageError(f"{mode} does not take --{', --'.join(given)}")


def cmd_access_review(args: argparse.Namespace) -> int:
    cli = _cli()
    if args.paths[:1] == [DECIDE]:
        if len(args.paths) != 2:
            raise cli.UsageError("usage: gxpscan access-review decide REVIEW_DIR --decisions FILE --name NAME "
                                 "--meaning TEXT --key KEY")
        _unused(args, ["output", "from-run", "inventory", "previous", "sign-key", "sign-key-passphrase-env",
                       "operator-name"], "access-review decide")
        return cmd_decide(args, Path(args.paths[1]))
    _unused(args, ["decisions", "name", "meaning", "key", "key-passphrase-env"], "access-review (collecting)")
    if args.from_run and args.paths:
        raise cli.UsageError("--from-run reads a run: give the inventory as --inventory, not as an argument")
    if not args.from_run and len(args.paths) != 1:
        raise cli.UsageError("give one INVENTORY to collect from (or --from-run RUN_DIR)")
    if not args.output:
        raise cli.UsageError("give the new review directory: --output DIR")
    return cmd_collect(args)


# --- collecting ----------------------------------------------------------------------------------------------------

def _info(cli: Any, inventory: str, inventory_sha256: str, operator_name: str) -> RunInfo:
    from scanner.model import RunInfo, utcnow

    started = utcnow()
    return RunInfo(id=f"{started:%Y%m%dT%H%M%SZ}-{os.urandom(3).hex()}", tool_version=cli._version(),
                   checks_fingerprint="", operator=cli.operator_id(), started=started,
                   inventory=inventory, inventory_sha256=inventory_sha256,
                   command=" ".join(["gxpscan", *sys.argv[1:]])[:500], python=cli.python_version(),
                   operator_name=operator_name)


def _inventory(cli: Any, path: str) -> Any:
    from reports.text import for_terminal
    from scanner.inventory import InventoryError, load_inventory

    try:
        return load_inventory(path)
    except InventoryError as exc:
        _say(f"inventory {exc.source} is not valid (nothing was collected):")
        for problem in exc.problems:
            print(f"  {for_terminal(problem)}", file=sys.stderr)
        return None


def _writer(cli: Any, outdir: Path, info: RunInfo) -> RecordWriter:
    from scanner.store import RECORD_NAME, RecordWriter

    try:
        return RecordWriter(outdir / RECORD_NAME, info)
    except FileExistsError:
        raise cli.UsageError(f"{outdir / RECORD_NAME} exists already; a review directory is new") from None


def _collect_live(targets: Sequence[Any], record: RecordWriter) -> tuple[list[SystemAccess], list[str], list[str]]:
    """(access lists, missing, notes): one round trip per target, no checks."""
    from scanner.access.extract import extractor
    from scanner.runner import TargetOutcome, scan

    systems: list[SystemAccess] = []
    missing: list[str] = []
    notes: list[str] = []

    def done(outcome: TargetOutcome) -> None:
        for warning in outcome.warnings:
            _say(f"warning: {outcome.target.name}: {warning}")
        record.add(outcome)
        if outcome.access is not None:
            systems.append(outcome.access)
        elif extractor(outcome.target.type) is None:
            notes.append(f"{outcome.target.name} ({outcome.target.type.value}): no accounts on this platform; "
                         "not reviewed")
        else:
            missing.append(f"{outcome.target.name}: no access list was built")

    scan(targets, [], {}, on_done=done, access=True)
    return systems, missing, notes


def _from_run(cli: Any, run_dir: Path, pubkeys: Sequence[Any], wanted: Sequence[str] | None,
              record: RecordWriter) -> tuple[list[SystemAccess], list[str], list[str], str, str]:
    """(access lists, missing, notes, source, inventory sha) read from a finished run, copied into ``record``."""
    from scanner.model import Platform, Target
    from scanner.runner import TargetOutcome
    from scanner.seal import manifests, verify_run
    from scanner.store import read_record

    if not run_dir.is_dir():
        raise cli.UsageError(f"--from-run {run_dir}: not a run directory")
    notes = []
    sealed = bool(manifests(run_dir))
    if sealed:
        v = verify_run(run_dir, pubkeys=pubkeys)
        if not v.intact:
            from scanner.access.reviewdir import ReviewDirError

            raise ReviewDirError(f"refusing to read {run_dir}: the run is NOT INTACT ({len(v.problems)} "
                                 f"problem(s)); run 'gxpscan verify {run_dir}' for details", v.problems, intact=False)
    elif pubkeys:
        raise cli.UsageError(f"--from-run {run_dir}: not sealed, but --pubkey asks for a signed run")
    else:
        notes.append(f"the run {run_dir} is not sealed: its integrity is not proven")
        _say(f"warning: {notes[-1]}")
    rec = read_record(run_dir)
    run = rec.run
    if run.info.interrupted:
        notes.append(f"the run {run.info.id} was interrupted; a target it did not finish has no list")
    systems, missing = [], []
    for name in rec.targets:
        access = run.access.get(name)
        if access is None:
            missing.append(f"{name}: the run holds no access list for it (scanned without its account facts)")
            continue
        systems.append(access)
        evidence = {k: e for k, e in run.evidence.items() if e.get("target") == name}
        record.add(TargetOutcome(Target(name, Platform(access.platform), {}, {}), (), evidence,
                                 system=run.systems.get(name, {}), access=access))
    for name in wanted or ():
        if name not in rec.targets:
            missing.append(f"{name}: in the inventory, not in the run {run.info.id}")
    source = (f"run {run.info.id} ({run_dir}), {'sealed and verified' if sealed else 'NOT sealed'}, "
              f"started {run.info.started.isoformat()}")
    return systems, missing, notes, source, run.info.inventory_sha256


def cmd_collect(args: argparse.Namespace) -> int:
    from scanner import frameworks
    from scanner.access.clauses import review_clauses
    from scanner.access.review import DEFAULT_STALE_DAYS, Review, build_review
    from scanner.access.reviewdir import ReviewDirError, previous_review

    cli = _cli()
    sealing = {"key": cli._private_key(args.sign_key, args.sign_key_passphrase_env) if args.sign_key else None,
               "tsa_url": None}
    if args.sign_key_passphrase_env and not args.sign_key:
        raise cli.UsageError("--sign-key-passphrase-env needs --sign-key")
    pubkeys, _certs = cli._trust(argparse.Namespace(pubkey=args.pubkey, tsa_cert=[]))
    inventory_path = args.inventory if args.from_run else args.paths[0]
    inventory = _inventory(cli, inventory_path) if inventory_path else None
    if inventory_path and inventory is None:
        return int(cli.EXIT_INPUT)
    try:
        previous = previous_review(Path(args.previous), pubkeys) if args.previous else None
    except ReviewDirError as exc:
        return _refuse(cli, exc)
    operator_name = (args.operator_name if args.operator_name is not None
                     else os.environ.get("GXPSCAN_OPERATOR", "")).strip()
    outdir = Path(args.output)
    if outdir.is_symlink() or (outdir.exists() and (not outdir.is_dir() or any(outdir.iterdir()))):
        raise cli.UsageError(f"{outdir} exists and is not an empty directory; a review directory is new")
    info = _info(cli, inventory.source if inventory else "", inventory.sha256 if inventory else "", operator_name)
    record = _writer(cli, outdir, info)
    try:
        if args.from_run:
            systems, missing, notes, source, inv_sha = _from_run(
                cli, Path(args.from_run), pubkeys, [t.name for t in inventory.targets] if inventory else None,
                record)
            if not inventory:
                info = replace(info, inventory_sha256=inv_sha)
        else:
            assert inventory is not None  # collecting always has one (checked above)
            systems, missing, notes = _collect_live(inventory.targets, record)
            source = "collected from the targets"
    except ReviewDirError as exc:
        record.close(interrupted=True)
        return _refuse(cli, exc)
    run = record.close()
    if record.failed:
        _say(f"could not write the review's record: {record.failed}")
        return int(cli.EXIT_WRITE)
    order = {t.name: i for i, t in enumerate(inventory.targets)} if inventory else {}
    systems.sort(key=lambda s: (order.get(s.system, len(order)), s.system))
    policy = {t.name: t.policy for t in inventory.targets} if inventory else {}
    stale = {s.system: int(policy.get(s.system, {}).get("stale_account_days", DEFAULT_STALE_DAYS))
             for s in systems}
    if not inventory:
        notes.append(f"no inventory given: stale_account_days is {DEFAULT_STALE_DAYS} for every system")
    base = Review(review_id=run.info.id, created=run.info.started, tool_version=info.tool_version,
                  operator=info.operator, operator_name=operator_name, inventory=info.inventory,
                  inventory_sha256=info.inventory_sha256, source=source, stale_days=stale, systems=tuple(systems),
                  missing=tuple(missing), clauses=review_clauses(frameworks.load_catalogs()), notes=tuple(notes))
    review = build_review(base, previous[0] if previous else None, previous[1] if previous else None,
                          run.info.started)
    return _finish(cli, outdir, review, sealing, args.quiet)


def _finish(cli: Any, outdir: Path, review: Review, sealing: Mapping[str, Any], quiet: bool,
            recorded: Mapping[str, str] | None = None, extra: Mapping[str, str] | None = None) -> int:
    from scanner.access.review import exit_status
    from scanner.access.reviewdir import write_outputs

    for path in write_outputs(outdir, review, recorded, extra):
        if not quiet:
            print(f"wrote {path}", file=sys.stderr)
    sealed = cli._seal(outdir, sealing, quiet=quiet)
    print_summary(review, outdir, quiet)
    if sealed:
        return int(sealed)
    return int({"findings": cli.EXIT_FAILURES, "errors": cli.EXIT_ERRORS}.get(exit_status(review), cli.EXIT_OK))


def print_summary(review: Review, outdir: Path, quiet: bool = False, out: Any = None) -> None:
    """The reviewer's first read on the console: findings, errors, then the changes (escaped for the terminal)."""
    from reports.text import for_terminal
    from scanner.access.review import summary

    out = out or sys.stdout
    s = summary(review)
    print(for_terminal(f"access review {review.review_id} ({outdir}): {s['systems']} system(s), {s['accounts']} "
                       f"account(s), {s['privileged']} privileged; {s['findings']} finding(s), {s['changes']} "
                       f"change(s), {s['systems_error']} system(s) without a list"), file=out)
    for c in review.findings:
        print(for_terminal(f"  FINDING {c.kind.value}: {c.system}/{c.name} ({c.id}): {c.detail}"), file=out)
    for e in review.errors:
        print(for_terminal(f"  ERROR {e}"), file=out)
    if quiet:
        return
    if review.previous is not None:
        print(for_terminal(f"changes since review {review.previous.review_id}:"), file=out)
    others = [c for c in review.changes if not c.kind.finding]
    for c in others[:SHOWN_CHANGES]:
        print(for_terminal(f"  {c.kind.value}: {c.system}/{c.name} ({c.id}): {c.detail}"), file=out)
    if len(others) > SHOWN_CHANGES:
        print(f"  ... {len(others) - SHOWN_CHANGES} more in access-review.html", file=out)


# --- deciding and signing --------------------------------------------------------------------------------------------

def cmd_decide(args: argparse.Namespace, review_dir: Path) -> int:
    from reports.access_csv import read_decisions
    from reports.text import for_document, for_terminal
    from scanner.access.decisions import DecisionError, parse_yaml, read_text, validate
    from scanner.access.review import with_decisions
    from scanner.access.reviewdir import ReviewDirError, verified_review
    from scanner.seal import SealError, fingerprint, sign_run

    cli = _cli()
    missing = [o for o in ("decisions", "name", "meaning", "key") if not getattr(args, o)]
    if missing:
        raise cli.UsageError(f"access-review decide needs --{', --'.join(missing)}")
    if not args.name.strip() or not args.meaning.strip():
        raise cli.UsageError("a signature needs the signer's printed name and the meaning of the signature")
    key = cli._private_key(args.key, args.key_passphrase_env)
    pubkeys, _certs = cli._trust(argparse.Namespace(pubkey=args.pubkey, tsa_cert=[]))
    try:
        verified = verified_review(review_dir, pubkeys)
    except ReviewDirError as exc:
        return _refuse(cli, exc)
    review = verified.review
    if review.decisions or verified.signatures:
        raise cli.UsageError(f"{review_dir}: review {review.review_id} is decided and signed already; a new decision "
                             "is a new review (gxpscan access-review ... --previous)")
    path = Path(args.decisions)
    is_yaml = path.suffix.lower() in (".yaml", ".yml")
    try:
        text = read_text(path)
        raw = parse_yaml(text, path.name) if is_yaml else read_decisions(text, path.name)
        decisions = validate(review, raw, for_document)
    except OSError as exc:
        raise cli.UsageError(f"cannot read {path}: {exc.strerror or exc}") from None
    except DecisionError as exc:
        _say(f"the decisions in {path} are not recorded: {len(exc.problems)} problem(s):")
        for p in exc.problems:
            print(f"  {for_terminal(p)}", file=sys.stderr)
        return int(cli.EXIT_INPUT)
    at = datetime.now(timezone.utc).replace(microsecond=0)
    recorded = {"name": args.name.strip(), "meaning": args.meaning.strip(), "at": at.isoformat(),
                "key_id": fingerprint(key.public_key())}
    decided = with_decisions(review, decisions)
    extra = {f"decisions-input.{'yaml' if is_yaml else 'csv'}": text}
    code = _finish(cli, review_dir, decided, {"key": key, "tsa_url": None}, args.quiet, recorded, extra)
    if code == cli.EXIT_WRITE:
        return code  # not sealed: nothing is signed
    try:
        name, sig = sign_run(review_dir, role=args.role, meaning=args.meaning, name=args.name, key=key, now=at)
    except SealError as exc:
        _say(f"the decisions are recorded and sealed, but the signature could not be made: {exc}")
        return int(cli.EXIT_WRITE)
    print(for_terminal(f"signed: {review_dir / name}: {sig.role} {sig.name!r}, {sig.signed_at.isoformat()}, "
                       f"meaning {sig.meaning!r}, key SHA256:{sig.key_id}, over manifest sha256 "
                       f"{sig.manifest_sha256}; {len(decisions)} decision(s) recorded"))
    return int(cli.EXIT_OK)  # recorded and signed (the review's own findings were reported when it was made)
