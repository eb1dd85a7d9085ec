"""A partner upload through the running local stack: the AWS CLI copies a file into the
bucket, the emulator notifies the queue, the worker runs `partner_import`, the report
appears under reports/<partner_id>/ and the API shows the prospects and the run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from tests.e2e.conftest import RunningStack

LIST = (
    "\ufeffOrganisaatio;Nimi;Titteli;Sähköposti;Puhelin\r\n"
    "Kuntayhtymä Ääri;Åsa Öberg;Sosiaalijohtaja;asa.oberg@aari.fi;040 765 4321\r\n"
    ";Yksityinen Henkilö;;yksityinen@aari.fi;\r\n"
    "Kauppa Oy;Matti M;;matti@gmail.com;\r\n"
).encode()


def test_cli_upload_is_imported_and_reported(local_stack: RunningStack, tmp_path: Path) -> None:
    info = local_stack.info
    path = tmp_path / "Kevään lista.csv"
    path.write_bytes(LIST)
    aws = str(Path(sys.executable).with_name("aws"))
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": info["region"],
    }
    subprocess.run(  # noqa: S603 (our own CLI and arguments)
        [
            aws,
            "--endpoint-url",
            info["aws_endpoint_url"],
            "s3",
            "cp",
            str(path),
            f"s3://{info['upload_bucket']}/incoming/acme/",
        ],
        check=True,
        env=env,
        capture_output=True,
        timeout=60,
    )
    s3 = local_stack.client("s3")
    reports: list[str] = []
    for _ in range(120):  # a bound on waiting, not a speed claim
        listing = s3.list_objects_v2(Bucket=info["upload_bucket"], Prefix="reports/acme/")
        reports = [o["Key"] for o in listing.get("Contents", []) if o["Key"].endswith(".json")]
        found = [
            k
            for k in reports
            if json.loads(s3.get_object(Bucket=info["upload_bucket"], Key=k)["Body"].read()).get("file_name")
            == "Kevään lista.csv"
        ]
        if found:
            break
        time.sleep(0.25)
    assert found, reports
    report = json.loads(s3.get_object(Bucket=info["upload_bucket"], Key=found[0])["Body"].read())
    assert report["state"] == "done"
    assert report["counts"]["inserted"] == 1 and report["counts"]["rejected"] == 2
    assert [(r["line"], r["reason"]) for r in report["rejected_rows"]] == [
        (3, "no_organisation"),
        (4, "free_mail_domain"),
    ]
    assert s3.list_objects_v2(Bucket=info["upload_bucket"], Prefix="incoming/acme/Kev").get("KeyCount", 0) == 0

    status, mine = local_stack.http("GET", "/partner/prospects", local_stack.login("partner"))
    assert status == 200, mine
    assert "asa.oberg@aari.fi" in [p["email"] for p in mine["items"]]
    status, runs = local_stack.http("GET", "/import-runs?partner_id=acme", local_stack.login("staff"))
    assert status == 200 and report["run_id"] in [r["run_id"] for r in runs["items"]]
