"""AWS Config facts: configuration recorders and their status, per region."""
from __future__ import annotations

from scanner.collectors.aws._api import Api, AwsFact, declare
from scanner.facts.aws import ConfigRecorder, ConfigRegion


def last_failed(last_status: object) -> bool:
    """DescribeConfigurationRecorderStatus' lastStatus: Pending, Success or Failure (any case)."""
    return str(last_status or "").upper() == "FAILURE"


def _config_recorders(api: Api, region: str) -> list[ConfigRegion]:
    recs = (api.call(api.fact.call("DescribeConfigurationRecorders"), region) or {}).get("ConfigurationRecorders", [])
    stats = (api.call(api.fact.call("DescribeConfigurationRecorderStatus"), region) or {}).get(
        "ConfigurationRecordersStatus", [])
    status = {s["name"]: s for s in stats}
    region_arn = api.account.arn("config", region, "configuration-recorder")
    recorders = tuple(
        ConfigRecorder(name=r["name"], arn=f"{region_arn}/{r['name']}",
                       all_supported=bool(r.get("recordingGroup", {}).get("allSupported")),
                       recording=bool(status.get(r["name"], {}).get("recording")),
                       last_status=status.get(r["name"], {}).get("lastStatus", ""),
                       last_failed=last_failed(status.get(r["name"], {}).get("lastStatus")))
        for r in recs
    )
    return [ConfigRegion(account=api.account.id, region=region, arn=region_arn, recorders=recorders)]


DEFINITIONS: tuple[AwsFact, ...] = (
    AwsFact("aws.config_recorders",
            (declare("config", "DescribeConfigurationRecorders"),
             declare("config", "DescribeConfigurationRecorderStatus")),
            _config_recorders),
)
