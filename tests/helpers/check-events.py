#!/usr/bin/python3
"""Validate kiln's event stream against docs/events.schema.json (python3-jsonschema, Debian's).

check-events.py SCHEMA FILE [--last TYPE]: every line of FILE is one event that passes the schema;
--last TYPE: the last event is of that type. Prints "N events valid" or the first problem."""
import json, sys

try:
    import jsonschema
except ImportError:
    print("SKIP: python3-jsonschema is not installed")
    sys.exit(77)
schema = json.load(open(sys.argv[1]))
validator = jsonschema.Draft202012Validator(schema)
jsonschema.Draft202012Validator.check_schema(schema)
events = []
for n, line in enumerate(open(sys.argv[2]), 1):
    try:
        e = json.loads(line)
    except ValueError as err:
        sys.exit(f"line {n}: not JSON: {err}: {line[:200]}")
    errors = sorted(validator.iter_errors(e), key=str)
    if errors:
        sys.exit(f"line {n}: {errors[0].message} in {line[:300]}")
    events.append(e)
if not events:
    sys.exit("no events at all")
if len(sys.argv) > 4 and sys.argv[3] == "--last" and events[-1]["type"] != sys.argv[4]:
    sys.exit(f"the last event is a {events[-1]['type']}, not a {sys.argv[4]}")
print(f"{len(events)} events valid ({', '.join(sorted(set(e['type'] for e in events)))})")
