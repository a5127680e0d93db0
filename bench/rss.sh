#!/usr/bin/env bash
# Resident memory of a real `vigil serve` (release build) with every model loaded: right after
# start (models loaded and warmed up), then after a photo, a shots set and a 5 s video have each
# been run through the SDK example plugin. Prints VmRSS / VmHWM in MB.
set -euo pipefail
BIN=${1:?usage: rss.sh <vigil binary> <plugin dir> <assets dir>}
PLUGINS=${2:?}
ASSETS=${3:?}
work=$(mktemp -d)
trap 'kill $pid 2>/dev/null || true; rm -rf "$work"' EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
BASE=http://127.0.0.1:$port
VIGIL_DATA_DIR=$work/data VIGIL_LISTEN=127.0.0.1:$port VIGIL_ASSETS_DIR=$ASSETS \
  VIGIL_ADMIN_EMAIL=bench@vigil.local VIGIL_ADMIN_PASSWORD='Bench-pass-1234' \
  "$BIN" serve >"$work/log" 2>&1 &
pid=$!
for _ in $(seq 1 300); do curl -sf "$BASE/api/healthcheck" >/dev/null 2>&1 && break; sleep 0.1; done
rss() { awk -v what="$1" '/^VmRSS|^VmHWM/ { printf "%s %s %.0f MB  ", what, $1, $2/1024 } END { print "" }' /proc/$pid/status; }
rss "after start:"
TOKEN=$(curl -s -X POST "$BASE/api/authorize/auth" -H 'Content-Type: application/json' \
  -d '{"credentials":{"email":"bench@vigil.local","password":"Bench-pass-1234"}}' | jq -r .access_token)
H="X-Forensic-Access-Token: $TOKEN"
plugin=$(curl -s -X POST "$BASE/api/plugins/" -H "$H" -F "file=@$PLUGINS/strict_liveness.wasm" \
  -F 'manifest={"kind":"analysis","name":"strict","version":"1","config":{"min_face_ratio":"0.005"}}' | jq -r .plugin_id)
ffmpeg -nostdin -v error -y -loop 1 -i "$ASSETS/testdata/astronaut.png" -t 5 -r 30 \
  -vf 'scale=1280:720:force_original_aspect_ratio=decrease,pad=1280:720:(ow-iw)/2:(oh-ih)/2' \
  -c:v libx264 -preset ultrafast -pix_fmt yuv420p "$work/v.mp4"
(cd "$work" && cp "$ASSETS/testdata/astronaut.png" a.png && python3 -c 'import zipfile; z=zipfile.ZipFile("s.zip","w"); [z.write("a.png", f"f{i}.png") for i in range(5)]')
for f in "$ASSETS/testdata/astronaut.png" "$work/s.zip" "$work/v.mp4"; do
  folder=$(curl -s -X POST "$BASE/api/folders/" -H "$H" -F "m=@$f" -F 'payload={"media:tags":{"m":["video_selfie"]}}' | jq -r .folder_id)
  verdict=$(curl -s -X POST "$BASE/api/plugins/$plugin/run" -H "$H" -H 'Content-Type: application/json' \
    -d "{\"folder_id\":\"$folder\"}" | jq -c '[.result.resolution, .elapsed_ms, .error.message]')
  echo "  $(basename "$f"): $verdict"
done
rss "after photo, shots set and video:"
