#!/usr/bin/env bash
# The README's first session with curl and grep: log in, upload a selfie video and a reference
# photo, run liveness and face matching, poll until FINISHED, print the folder.
#   VIGIL_URL=http://127.0.0.1:8080 VIGIL_EMAIL=admin@vigil.local VIGIL_PASSWORD=… \
#       examples/first_session.sh selfie.mp4 reference.jpg
set -euo pipefail
BASE=${VIGIL_URL:-http://127.0.0.1:8080}
SELFIE=${1:?selfie video}
REFERENCE=${2:?reference photo}

# Answers use Oz's separators (`"key": "value"`), which is what these greps expect.
TOKEN=$(curl -sf -X POST "$BASE/api/authorize/auth" -H 'Content-Type: application/json' \
  -d "{\"credentials\":{\"email\":\"$VIGIL_EMAIL\",\"password\":\"$VIGIL_PASSWORD\"}}" \
  | grep -o '"access_token": "[^"]*"' | cut -d'"' -f4)
H="X-Forensic-Access-Token: $TOKEN"

FOLDER=$(curl -sf -X POST "$BASE/api/folders/" -H "$H" \
  -F "video1=@$SELFIE" -F "photo1=@$REFERENCE" \
  -F 'payload={"media:tags":{"video1":["video_selfie","video_selfie_blank","orientation_portrait"],"photo1":["photo_selfie"]},"folder:meta_data":{"transaction_id":"T-1"}}' \
  | grep -o '"folder_id": "[^"]*"' | head -1 | cut -d'"' -f4)

curl -sf -X POST "$BASE/api/folders/$FOLDER/analyses/" -H "$H" -H 'Content-Type: application/json' \
  -d '{"analyses":[{"type":"quality"},{"type":"biometry"}]}' > /dev/null

# Poll every second, as the SDKs do, until the folder leaves PROCESSING.
for _ in $(seq 1 120); do
  OUT=$(curl -sf "$BASE/api/folders/$FOLDER/?with_analyses=true" -H "$H")
  if ! grep -q '"resolution_status": "PROCESSING"' <<<"$OUT"; then break; fi
  sleep 1
done
echo "$OUT"
