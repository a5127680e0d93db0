#!/usr/bin/env python3
"""The README's first session through the generated Python client: log in, upload a selfie video
and a reference photo, run liveness and face matching, poll, print the verdicts as JSON.

    VIGIL_URL=http://127.0.0.1:8080 VIGIL_EMAIL=admin@vigil.local VIGIL_PASSWORD=… \
        python3 examples/first_session.py selfie.mp4 reference.jpg
"""

import json
import os
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent / "sdk" / "python"))
from vigil_client import Client, OzError  # noqa: E402


def main(selfie, reference):
    c = Client(os.environ.get("VIGIL_URL", "http://127.0.0.1:8080"))
    c.authenticate(os.environ["VIGIL_EMAIL"], os.environ["VIGIL_PASSWORD"])
    folder = c.create_folder(
        files={"video1": selfie, "photo1": reference},
        payload={
            "media:tags": {
                "video1": ["video_selfie", "video_selfie_blank", "orientation_portrait"],
                "photo1": ["photo_selfie"],
            },
            "folder:meta_data": {"transaction_id": "T-1"},
        },
    )
    fid = folder["folder_id"]
    started = c.request_analyses(fid, body={"analyses": [{"type": "quality"}, {"type": "biometry"}]})
    verdicts = {}
    for a in started:
        done = c.wait_analysis(a["analyse_id"])
        verdicts[done["type"]] = {"resolution_status": done["resolution_status"], "results_data": done.get("results_data")}
    folder = c.get_folder(fid, with_analyses=True)
    found = c.list_folders(params={"meta_data": "transaction_id==T-1"})
    print(json.dumps({
        "folder_id": fid,
        "resolution_status": folder["resolution_status"],
        "system_resolution": folder["system_resolution"],
        "analyses": verdicts,
        "found_by_transaction_id": [f["folder_id"] for f in found["items"]],
        "token_expires": c.expire_date,
    }, indent=2))
    # Errors arrive as OzError with the Oz code.
    try:
        c.get_folder("not-a-uuid")
    except OzError as e:
        print(f"expected error: {e.status} {e.error_code} {e.error_message}", file=sys.stderr)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
