"""A fake FHIR R4 server on loopback for the inbox's export: it takes a transaction Bundle POSTed to
its base URL, validates it with fhir.resources (structure, cardinality, references inside the bundle)
and answers a transaction-response, or 400 with an OperationOutcome. It keeps what it received."""

from __future__ import annotations

import http.server
import json
import threading
from typing import Any, Dict, List, Optional

from fhir.resources.bundle import Bundle

from harness.servers import free_port


class FakeFhirServer:
    def __init__(self) -> None:
        self.received: List[Dict[str, Any]] = []
        self.authorizations: List[Optional[str]] = []
        self.refusals: List[str] = []
        self.answer_status: Optional[int] = None  # set to make it fail
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                fake.authorizations.append(self.headers.get("Authorization"))
                if fake.answer_status:
                    return self._answer(fake.answer_status, {"resourceType": "OperationOutcome", "issue": []})
                try:
                    problem = fake.problem(json.loads(body), self.headers.get("Content-Type", ""))
                except ValueError as error:
                    problem = f"not JSON: {error}"
                if problem:
                    fake.refusals.append(problem)
                    outcome = {
                        "resourceType": "OperationOutcome",
                        "issue": [{"severity": "error", "code": "invalid", "diagnostics": problem}],
                    }
                    return self._answer(400, outcome)
                bundle = json.loads(body)
                fake.received.append(bundle)
                entries = [{"response": {"status": "201 Created"}} for _ in bundle["entry"]]
                self._answer(200, {"resourceType": "Bundle", "type": "transaction-response", "entry": entries})

            def _answer(self, status: int, payload: Dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/fhir+json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/fhir"

    @staticmethod
    def problem(bundle: Dict[str, Any], content_type: str) -> Optional[str]:
        """Why a FHIR server would refuse this, or None."""
        if not content_type.startswith("application/fhir+json"):
            return f"content type {content_type}"
        try:
            parsed = Bundle.parse_obj(bundle)
        except Exception as error:  # pydantic's ValidationError and FHIR's own
            return f"invalid Bundle: {error}"
        if parsed.type != "transaction":
            return f"a {parsed.type} bundle posted to the base URL"
        full_urls = {entry.fullUrl for entry in parsed.entry or []}
        for entry in parsed.entry or []:
            if entry.request is None or entry.request.method != "POST":
                return "every entry needs a POST request"
            for reference in _references(entry.resource.dict()):
                if reference.startswith("urn:uuid:") and reference not in full_urls:
                    return f"reference {reference} to nothing in the bundle"
        return None

    def stop(self) -> None:
        self.server.shutdown()


def _references(node: Any) -> List[str]:
    found: List[str] = []
    if isinstance(node, dict):
        if isinstance(node.get("reference"), str):
            found.append(node["reference"])
        for value in node.values():
            found += _references(value)
    elif isinstance(node, list):
        for item in node:
            found += _references(item)
    return found
