"""The hand-written part of the client: HTTP, uploads, errors, log-in and polling."""

import json
import mimetypes
import os
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid


class OzError(Exception):
    """An Oz error body: `{error_code, error_message, details}` with the HTTP status."""

    def __init__(self, status, error_code, error_message, details=None):
        super().__init__(f"HTTP {status}, error {error_code}: {error_message}")
        self.status = status
        self.error_code = error_code
        self.error_message = error_message
        self.details = details


class Transport:
    def __init__(self, base_url, token=None, timeout=300):
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.timeout = timeout
        # When the access token expires (UNIX seconds), from the last authenticated answer.
        self.expire_date = None

    # -- conveniences ------------------------------------------------------------------------

    def authenticate(self, email, password):
        """Logs in and keeps the access token for the following calls."""
        pair = self.login({"credentials": {"email": email, "password": password}})
        self.token = pair["access_token"]
        self.expire_token = pair["expire_token"]
        self.expire_date = pair["expire_date"]
        return pair

    def wait_analysis(self, analyse_id, timeout=120, interval=1.0):
        """Polls an analysis every `interval` seconds (as the SDKs do) until it leaves PROCESSING."""
        deadline = time.monotonic() + timeout
        while True:
            a = self.get_analysis(analyse_id)
            if a["state"] not in ("PROCESSING", "INITIAL"):
                return a
            if time.monotonic() > deadline:
                raise TimeoutError(f"analysis {analyse_id} still {a['state']} after {timeout} s")
            time.sleep(interval)

    # -- transport ---------------------------------------------------------------------------

    def _url(self, path, params, query):
        q = dict(params or {})
        q.update(query or {})
        # Oz documents API paths with a trailing slash; static file links have none.
        url = self.base_url + path + ("/" if path.startswith("/api/") else "")
        if q:
            url += "?" + urllib.parse.urlencode({k: _text(v) for k, v in q.items()})
        return url

    def _send(self, method, url, data, content_type):
        headers = {"Accept": "application/json", "User-Agent": "vigil-client-python"}
        if content_type:
            headers["Content-Type"] = content_type
        if self.token:
            headers["X-Forensic-Access-Token"] = self.token
        req = urllib.request.Request(url, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as r:
                status, raw, hdrs = r.status, r.read(), r.headers
        except urllib.error.HTTPError as e:
            status, raw, hdrs = e.code, e.read(), e.headers
        expiry = hdrs.get("X-Forensic-Access-Token-Expire-Date")
        if expiry:
            self.expire_date = float(expiry)
        body = None
        if raw:
            ctype = hdrs.get("Content-Type", "")
            body = json.loads(raw) if "json" in ctype else raw
        if status >= 400:
            if isinstance(body, dict) and "error_code" in body:
                raise OzError(status, body["error_code"], body.get("error_message"), body.get("details"))
            raise OzError(status, None, f"HTTP {status}")
        return body

    def _call(self, method, path, body, params, query):
        data = None if body is None else json.dumps(body).encode()
        return self._send(method, self._url(path, params, query), data, "application/json" if data else None)

    def _upload(self, method, path, files, payload, fields, params, query):
        boundary = "vigil-" + uuid.uuid4().hex
        parts = []
        for field, f in (files or {}).items():
            if isinstance(f, (str, os.PathLike)):
                name = os.path.basename(f)
                with open(f, "rb") as fh:
                    content = fh.read()
            else:
                name, content = f
            ctype = mimetypes.guess_type(name)[0] or "application/octet-stream"
            head = f'Content-Disposition: form-data; name="{field}"; filename="{name}"\r\nContent-Type: {ctype}'
            parts.append((head, content))
        if payload is not None:
            parts.append(('Content-Disposition: form-data; name="payload"', json.dumps(payload).encode()))
        for field, value in (fields or {}).items():
            parts.append((f'Content-Disposition: form-data; name="{field}"', _text(value).encode()))
        data = b""
        for head, content in parts:
            data += f"--{boundary}\r\n{head}\r\n\r\n".encode() + content + b"\r\n"
        data += f"--{boundary}--\r\n".encode()
        return self._send(method, self._url(path, params, query), data, f"multipart/form-data; boundary={boundary}")


def _text(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (list, tuple)):
        return ",".join(_text(x) for x in v)
    return str(v)
