"""What a CloudTrail trail's event selectors (basic or advanced, as GetEventSelectors returns them) record: all
management events, and which S3 object data events. Read by both collectors of ``aws.cloudtrail_trails``: the live
one (scanner/collectors/aws/cloudtrail.py) and the IaC one (scanner/collectors/iac/_build.py), which imports this
module without the live collector's."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from scanner.facts.aws import S3DataEvents


def management_events(got: Mapping[str, Any] | None) -> bool | None:
    """Whether the selectors record all (read and write) management events; None when they do not say."""
    if got is None:
        return None
    basic = got.get("EventSelectors") or []
    advanced = got.get("AdvancedEventSelectors") or []
    if not basic and not advanced:
        return None
    if any(s.get("IncludeManagementEvents") and s.get("ReadWriteType", "All") == "All"
           and not s.get("ExcludeManagementEventSources") for s in basic):
        return True
    for sel in advanced:
        fields = {fs.get("Field"): fs for fs in sel.get("FieldSelectors", [])}
        category = fields.get("eventCategory", {})
        # Only the category may be named: a readOnly or eventSource selector leaves some management events out.
        if "Management" in category.get("Equals", []) and set(fields) == {"eventCategory"}:
            return True
    return False


#: Fields of an advanced selector that narrow the S3 data events only in ways s3_data_events reads.
_DATA_FIELDS = {"eventCategory": {"Equals"}, "resources.type": {"Equals"}, "readOnly": {"Equals"},
                "resources.ARN": {"StartsWith"}}


def _advanced_data_events(sel: Mapping[str, Any]) -> S3DataEvents | None:
    fields = [f for f in sel.get("FieldSelectors") or [] if isinstance(f, Mapping)]
    by = {f.get("Field"): f for f in fields}
    if "Data" not in (by.get("eventCategory") or {}).get("Equals", ()) \
            or "AWS::S3::Object" not in (by.get("resources.type") or {}).get("Equals", ()):
        return None
    only = (by.get("readOnly") or {}).get("Equals")
    arns = by.get("resources.ARN")
    partial = len(by) != len(fields) or any(
        name not in _DATA_FIELDS or set(f) - {"Field"} - _DATA_FIELDS[name] for name, f in by.items())
    return S3DataEvents(arn_prefixes=("arn:",) if arns is None else tuple(map(str, arns.get("StartsWith") or ())),
                        read=only is None or "true" in only, write=only is None or "false" in only, partial=partial)


def s3_data_events(got: Mapping[str, Any] | None) -> tuple[S3DataEvents, ...] | None:
    """The S3 object data events a trail's selectors (basic or advanced) record; None when they were not read."""
    if got is None:
        return None
    out = []
    for sel in got.get("EventSelectors") or []:
        rw = sel.get("ReadWriteType", "All")
        out += [S3DataEvents(tuple(map(str, r.get("Values") or ())), read=rw in ("All", "ReadOnly"),
                             write=rw in ("All", "WriteOnly"))
                for r in sel.get("DataResources") or [] if r.get("Type") == "AWS::S3::Object"]
    for sel in got.get("AdvancedEventSelectors") or []:
        found = _advanced_data_events(sel)
        if found is not None:
            out.append(found)
    return tuple(out)


