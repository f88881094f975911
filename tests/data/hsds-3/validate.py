"""Validates an HSDS export (a JSON array of organizations, on stdin) against the HSDS 3.x
compiled organization schema next to this file. Prints one line per problem (the item's index,
the path in it, the validator's message) and exits 1 if there is any; used by the system test
resource_exchange_limits::hsds_export_validates_against_the_hsds_3_schema.

The compiled schemas carry keywords of their own (constraints, core, datapackage_metadata);
a JSON Schema validator ignores unknown keywords, as intended by the specification."""

import json
import pathlib
import sys

import jsonschema

schema = json.loads((pathlib.Path(__file__).parent / "organization.json").read_text())
validator_class = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
validator_class.check_schema(schema)
validator = validator_class(schema, format_checker=validator_class.FORMAT_CHECKER)
organizations = json.load(sys.stdin)
if not isinstance(organizations, list) or not organizations:
    print("the export is not a non-empty array of organizations")
    sys.exit(1)
problems = 0
for index, organization in enumerate(organizations):
    for error in sorted(validator.iter_errors(organization), key=lambda e: list(e.absolute_path)):
        path = "/".join(str(part) for part in error.absolute_path)
        print(f"[{index}] /{path}: {error.message[:300]}")
        problems += 1
sys.exit(1 if problems else 0)
