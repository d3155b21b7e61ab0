"""A third-party plugin whose entry point name is no platform: its platform cannot be known, so it always loads."""
from __future__ import annotations

from scanner import check, passed
from scanner.model import Finding


@check(id="aws.acme.bucket_count", title="Buckets are listed", severity="low", area="access_control",
       criterion="The account's buckets could be listed.")
def bucket_count(s3_buckets: object) -> Finding:
    return passed("account", "listed")
