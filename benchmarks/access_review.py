"""Building an access review's outputs for a large directory: time and peak memory.

    python3 benchmarks/access_review.py [--accounts 10000] [--runs 3]

Builds in memory (test factories' values, no server) a previous approved review of ``--accounts`` accounts on one
directory-like system (a fifth privileged through a nested group path, logons spread over a year, ten groups each)
with a "remove" decision on every hundredth account, and a current list in which 2 % are new, 2 % removed, 2 %
gained a privilege and 1 % were disabled. Then times, ``--runs`` times (median), each phase and the whole:
the diff (``build_review``), the JSON text, the CSV, the HTML page and the record (HTML and PDF, with a decision
for every account), in CPU seconds (fairer on a shared
machine); and prints the peak memory traced during one
whole build (``tracemalloc``) and the sizes.
"""
from __future__ import annotations

import argparse
import io
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from reports import access_csv, access_html, access_pdf  # noqa: E402
from reports.text import json_text  # noqa: E402
from scanner.access.model import Account, AccountType, Grant, SystemAccess  # noqa: E402
from scanner.access.review import AccountDecision, Decision, Review, build_review, review_to_dict  # noqa: E402
from scanner.model import utcnow  # noqa: E402


def account(i: int, now: object) -> Account:
    grants = (Grant("Domain Admins", f"member of Domain Admins through CN=Ops{i % 7},OU=Groups,DC=lab (nested)",
                    "ldap.groups"),) if i % 5 == 0 else ()
    return Account(system="ad1", platform="ldap", name=f"user{i:05d}", id=f"S-1-5-21-1-2-3-{10000 + i}",
                   type=AccountType.SERVICE if i % 50 == 0 else AccountType.PERSON, type_reason="a person's account",
                   enabled=True, locked=False, grants=grants, mfa=None,
                   last_logon=now - timedelta(days=i % 365), last_logon_known=True,  # type: ignore[operator]
                   password_changed=now - timedelta(days=i % 200),  # type: ignore[operator]
                   groups=tuple(f"CN=Group{(i + g) % 500},OU=Groups,DC=lab" for g in range(10)),
                   evidence=("ldap.users", "ldap.groups"))


def inputs(n: int) -> tuple[Review, Review]:
    now = utcnow()
    old = [account(i, now) for i in range(n)]
    new = []
    for i, a in enumerate(old):
        if i % 50 == 1:
            continue  # removed
        if i % 50 == 2:
            a = replace(a, grants=(Grant("Domain Admins", "member of Domain Admins (direct)", "ldap.groups"),))
        if i % 100 == 3:
            a = replace(a, enabled=False)
        new.append(a)
    new += [account(n + i, now) for i in range(n // 50)]

    def review(accounts: list[Account], **kw: object) -> Review:
        return Review(review_id="bench", created=now, tool_version="bench", operator="bench@host", operator_name="",
                      inventory="bench.yaml", inventory_sha256="1" * 64, source="bench", stale_days={"ad1": 90},
                      systems=(SystemAccess("ad1", "ldap", now, tuple(accounts)),), **kw)  # type: ignore[arg-type]

    decisions = tuple(AccountDecision("ad1", a.id, a.name, Decision.REMOVE if i % 100 == 0 else Decision.KEEP,
                                      "bench", "bench.csv") for i, a in enumerate(old))
    return review(old, decisions=decisions), review(new)


def outputs(previous: Review, base: Review) -> dict[str, float]:
    times: dict[str, float] = {}

    def timed(name: str, fn: Callable[[], object]) -> object:
        start = time.process_time()
        value = fn()
        times[name] = times.get(name, 0.0) + time.process_time() - start
        return value

    review = timed("diff", lambda: build_review(base, previous, None, base.created))
    assert isinstance(review, Review)
    doc = timed("json", lambda: review_to_dict(review))
    text = timed("json", lambda: json_text(doc, indent=1))
    csv_out = io.StringIO()
    timed("csv", lambda: access_csv.render(review, csv_out))
    html = timed("html", lambda: access_html.review_html(review, doc))  # type: ignore[arg-type]
    decided = replace(review, decisions=previous.decisions)  # the record once every account is decided
    pdf = timed("record", lambda: (access_html.record_html(decided), access_pdf.record_pdf(decided)))
    times["total"] = sum(times.values())
    times["bytes_json"] = len(str(text))
    times["bytes_csv"] = len(csv_out.getvalue())
    times["bytes_html"] = len(str(html))
    times["changes"] = len(review.changes)
    times["bytes_pdf"] = len(pdf[1])  # type: ignore[index]
    return times


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--accounts", type=int, default=10000)
    p.add_argument("--runs", type=int, default=3)
    args = p.parse_args()
    previous, base = inputs(args.accounts)
    runs = [outputs(previous, base) for _ in range(args.runs)]
    tracemalloc.start()
    outputs(previous, base)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
    print(f"{args.accounts} accounts, {int(med['changes'])} changes and findings; median of {args.runs}, CPU seconds: "
          f"diff {med['diff']:.2f} s, json {med['json']:.2f} s, csv {med['csv']:.2f} s, html {med['html']:.2f} s, "
          f"record (HTML and PDF, every account decided) {med['record']:.2f} s, "
          f"total {med['total']:.2f} s; peak traced {peak / 2**20:.0f} MiB; JSON {med['bytes_json'] / 1e6:.1f} MB, "
          f"CSV {med['bytes_csv'] / 1e6:.1f} MB, HTML {med['bytes_html'] / 1e6:.1f} MB, "
          f"PDF {med['bytes_pdf'] / 1e6:.1f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
