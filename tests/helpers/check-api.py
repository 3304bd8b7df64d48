#!/usr/bin/python3
"""Check one real response of kiln serve against docs/api.openapi.yaml.

check-api.py OPENAPI METHOD PATH STATUS CONTENT_TYPE BODYFILE [HEADERSFILE]
PATH is the template as written in the file (/v1/builds/{id}). The status must be one the file
lists for that operation; a JSON body must pass its schema (OpenAPI 3.1: JSON Schema 2020-12);
headers the file marks required must be there. Prints nothing when good, else the problem."""
import json, sys

import jsonschema
import yaml

spec_path, method, path, status, ctype, body_path = sys.argv[1:7]
headers_path = sys.argv[7] if len(sys.argv) > 7 else None
doc = yaml.safe_load(open(spec_path))
op = doc["paths"].get(path, {}).get(method.lower())
if op is None:
    sys.exit(f"{method} {path}: not in the OpenAPI file")
resp = op["responses"].get(status)
if resp is None:
    sys.exit(f"{method} {path}: status {status} is not one the OpenAPI file lists ({', '.join(op['responses'])})")
if "$ref" in resp:
    resp = doc["components"]["responses"][resp["$ref"].rsplit("/", 1)[1]]
headers = {}
if headers_path:
    for line in open(headers_path, encoding="latin-1"):
        if ":" in line:
            k, v = line.split(":", 1)
            headers[k.strip().lower()] = v.strip()
for name, h in resp.get("headers", {}).items():
    if h.get("required") and name.lower() not in headers:
        sys.exit(f"{method} {path} {status}: the header {name} is missing")
content = resp.get("content")
if not content:
    if open(body_path, "rb").read().strip():
        sys.exit(f"{method} {path} {status}: a body where the file says none")
    sys.exit(0)
media = ctype.split(";")[0].strip()
if media not in content:
    sys.exit(f"{method} {path} {status}: Content-Type {media} is not one of {', '.join(content)}")
if media == "application/json":
    try:
        body = json.load(open(body_path))
    except ValueError as e:
        sys.exit(f"{method} {path} {status}: not JSON: {e}")
    root = {"components": doc["components"], "allOf": [content[media]["schema"]]}
    errors = sorted(jsonschema.Draft202012Validator(root).iter_errors(body), key=str)
    if errors:
        sys.exit(f"{method} {path} {status}: {errors[0].message} at {list(errors[0].absolute_path)}")
