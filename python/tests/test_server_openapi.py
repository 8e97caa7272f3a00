"""The reference server's OpenAPI document (examples/server/openapi.json, generated from the Rust
route table and checked for drift by `cargo test -p landopp-server`) is a valid OpenAPI 3.1
document by an independent validator."""

import json
import pathlib

from openapi_spec_validator import validate

DOC = pathlib.Path(__file__).resolve().parents[2] / "examples" / "server" / "openapi.json"


def test_openapi_document_validates():
    doc = json.loads(DOC.read_text())
    assert doc["openapi"] == "3.1.0"
    validate(doc)  # raises on any violation of the OpenAPI 3.1 schema


def test_every_protected_operation_declares_security_and_problem_responses():
    doc = json.loads(DOC.read_text())
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            if "x-min-role" in op:
                assert op["security"], (method, path)
                for code in ("401", "403", "429"):
                    assert "application/problem+json" in op["responses"][code]["content"], (method, path, code)
