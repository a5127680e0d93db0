#!/usr/bin/env python3
"""Generates the client tooling from docs/openapi.json (the document the server itself serves):

* sdk/python/vigil_client/_operations.py — one method per operation of the Python client;
* sdk/postman/vigil.postman_collection.json — a Postman collection: every operation by tag, and
  the example flows (log in, upload, liveness and face matching, poll).

`python3 sdk/generate.py` writes both; `--check` exits 1 if either differs from what is committed
(the test suite runs it, so the tooling cannot drift from the API). Standard library only.
"""

import json
import keyword
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
SPEC = ROOT / "docs" / "openapi.json"
PY_OUT = ROOT / "sdk" / "python" / "vigil_client" / "_operations.py"
POSTMAN_OUT = ROOT / "sdk" / "postman" / "vigil.postman_collection.json"
METHODS = ("get", "post", "put", "patch", "delete")


def operations(spec):
    """(method, path, operation) in a stable order: by path, then method."""
    for path in sorted(spec["paths"]):
        item = spec["paths"][path]
        for method in METHODS:
            if method in item:
                yield method, path, item[method]


def body_kind(op):
    content = op.get("requestBody", {}).get("content", {})
    if "multipart/form-data" in content:
        return "multipart"
    if content:
        return "json"
    return None


def summary(op):
    text = (op.get("summary") or op.get("description") or "").strip()
    return " ".join(text.split())


def ident(name):
    name = re.sub(r"\W", "_", name)
    return name + "_" if keyword.iskeyword(name) else name


def python_module(spec):
    out = [
        '"""Generated from docs/openapi.json by sdk/generate.py; do not edit by hand."""',
        "",
        "# fmt: off",
        "",
        "",
        "class Operations:",
        '    """One method per API operation. Path parameters are positional; query parameters go in',
        "    `params` (a dict, for names such as `time_created.min`) or as keywords; JSON bodies in",
        '    `body`; uploads take `files` ({field: path or (name, bytes)}) and `payload`."""',
        "",
    ]
    for method, path, op in operations(spec):
        name = ident(op["operationId"])
        path_params = re.findall(r"{(\w+)}", path)
        kind = body_kind(op)
        args = ["self"] + [ident(p) for p in path_params]
        if kind == "json":
            args.append("body=None")
        elif kind == "multipart":
            args += ["files=None", "payload=None", "fields=None"]
        args += ["params=None", "**query"]
        fpath = path
        for p in path_params:
            fpath = fpath.replace("{" + p + "}", "{" + ident(p) + "}")
        doc = summary(op).replace(chr(34) * 3, "").strip()
        out.append(f"    def {name}({', '.join(args)}):")
        if doc:
            out.append(f'        """{doc}\n\n        {method.upper()} {path}"""')
        else:
            out.append(f'        """{method.upper()} {path}"""')
        call_path = f'f"{fpath}"' if path_params else f'"{fpath}"'
        if kind == "multipart":
            out.append(
                f'        return self._upload("{method.upper()}", {call_path}, files, payload, fields, params, query)'
            )
        else:
            body = "body" if kind == "json" else "None"
            out.append(f'        return self._call("{method.upper()}", {call_path}, {body}, params, query)')
        out.append("")
    return "\n".join(out).rstrip() + "\n"


def postman_request(method, path, op, body=None, form=None, query=None):
    raw_path = re.sub(r"{(\w+)}", r":\1", path)
    # Oz documents API paths with a trailing slash; static file links have none.
    slash = path.startswith("/api/")
    url = {
        "raw": "{{baseUrl}}" + raw_path + ("/" if slash else ""),
        "host": ["{{baseUrl}}"],
        "path": raw_path.strip("/").split("/") + ([""] if slash else []),
    }
    variables = [{"key": p, "value": "{{" + p + "}}"} for p in re.findall(r"{(\w+)}", path)]
    if variables:
        url["variable"] = variables
    if query:
        url["query"] = [{"key": k, "value": v} for k, v in query]
        url["raw"] += "?" + "&".join(f"{k}={v}" for k, v in query)
    headers = []
    if op.get("security") != [{}]:
        headers.append({"key": "X-Forensic-Access-Token", "value": "{{token}}"})
    req = {"method": method.upper(), "header": headers, "url": url, "description": summary(op)}
    if body is not None:
        headers.append({"key": "Content-Type", "value": "application/json"})
        req["body"] = {"mode": "raw", "raw": json.dumps(body, indent=2), "options": {"raw": {"language": "json"}}}
    elif form is not None:
        req["body"] = {"mode": "formdata", "formdata": form}
    return req


def example_body(spec, op):
    """A small JSON body from the schema's required properties (enough to edit in Postman)."""
    content = op.get("requestBody", {}).get("content", {}).get("application/json", {})
    schema = content.get("schema", {})
    if "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    props = schema.get("properties", {})
    return {k: "" for k in schema.get("required", []) if k in props}


def flows():
    """The README's first session as runnable steps; test scripts carry ids forward."""

    def script(lines):
        return [{"listen": "test", "script": {"type": "text/javascript", "exec": lines}}]

    login = postman_request(
        "post",
        "/api/authorize/auth",
        {"security": [{}]},
        body={"credentials": {"email": "{{email}}", "password": "{{password}}"}},
    )
    upload = postman_request(
        "post",
        "/api/folders",
        {},
        form=[
            {"key": "video1", "type": "file", "src": "selfie.mp4"},
            {"key": "photo1", "type": "file", "src": "reference.jpg"},
            {
                "key": "payload",
                "type": "text",
                "value": json.dumps(
                    {
                        "media:tags": {
                            "video1": ["video_selfie", "video_selfie_blank", "orientation_portrait"],
                            "photo1": ["photo_selfie"],
                        },
                        "folder:meta_data": {"transaction_id": "T-1"},
                    }
                ),
            },
        ],
    )
    analyses = postman_request(
        "post",
        "/api/folders/{folder_id}/analyses",
        {},
        body={"analyses": [{"type": "quality"}, {"type": "biometry"}]},
    )
    poll = postman_request("get", "/api/folders/{folder_id}", {}, query=[("with_analyses", "true")])
    return {
        "name": "Flows: first session",
        "description": "Log in, upload a selfie video and a reference photo, start liveness and face "
        "matching, poll until the folder is FINISHED (SDKs poll every second).",
        "item": [
            {
                "name": "1. Log in",
                "request": login,
                "event": script(
                    [
                        "const r = pm.response.json();",
                        "pm.collectionVariables.set('token', r.access_token);",
                        "pm.test('logged in', () => pm.expect(r.access_token).to.be.a('string'));",
                    ]
                ),
            },
            {
                "name": "2. Upload selfie video and reference photo",
                "request": upload,
                "event": script(
                    [
                        "const r = pm.response.json();",
                        "pm.collectionVariables.set('folder_id', r.folder_id);",
                        "pm.test('folder created', () => pm.response.to.have.status(201));",
                    ]
                ),
            },
            {
                "name": "3. Liveness and face matching",
                "request": analyses,
                "event": script(["pm.test('started', () => pm.response.to.have.status(201));"]),
            },
            {
                "name": "4. Poll the folder",
                "request": poll,
                "event": script(
                    [
                        "const r = pm.response.json();",
                        "pm.test('finished', () => pm.expect(r.resolution_status).to.eql('FINISHED'));",
                        "if (r.resolution_status === 'PROCESSING') { postman.setNextRequest(pm.info.requestName); }",
                    ]
                ),
            },
        ],
    }


def postman_collection(spec):
    by_tag = {}
    for method, path, op in operations(spec):
        kind = body_kind(op)
        body = example_body(spec, op) if kind == "json" else None
        form = None
        if kind == "multipart":
            form = [
                {"key": "file1", "type": "file", "src": ""},
                {"key": "payload", "type": "text", "value": json.dumps({"media:tags": {"file1": ["photo_selfie"]}})},
            ]
        item = {"name": f"{op['operationId']}  ({method.upper()} {path})", "request": postman_request(method, path, op, body, form)}
        by_tag.setdefault((op.get("tags") or ["other"])[0], []).append(item)
    tags = {t["name"]: t.get("description", "") for t in spec.get("tags", [])}
    folders = [flows()] + [
        {"name": tag, "description": tags.get(tag, ""), "item": items} for tag, items in sorted(by_tag.items())
    ]
    variables = ["baseUrl", "email", "password", "token", "folder_id", "analyse_id", "media_id", "user_id"]
    return {
        "info": {
            "name": spec["info"]["title"] + " " + spec["info"].get("version", ""),
            "description": spec["info"].get("description", "")
            + "\n\nGenerated from docs/openapi.json by sdk/generate.py.",
            "schema": "https://schema.getpostman.com/json/collection/v2.1.0/collection.json",
        },
        "item": folders,
        "variable": [{"key": v, "value": "http://127.0.0.1:8080" if v == "baseUrl" else ""} for v in variables],
    }


def main():
    spec = json.loads(SPEC.read_text())
    outputs = {
        PY_OUT: python_module(spec),
        POSTMAN_OUT: json.dumps(postman_collection(spec), indent=2, ensure_ascii=False) + "\n",
    }
    if "--check" in sys.argv[1:]:
        stale = [str(p.relative_to(ROOT)) for p, text in outputs.items() if not p.exists() or p.read_text() != text]
        if stale:
            print("out of date (run python3 sdk/generate.py): " + ", ".join(stale), file=sys.stderr)
            return 1
        return 0
    for p, text in outputs.items():
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
        print(f"wrote {p.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
