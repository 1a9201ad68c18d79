"""A loopback stand-in for the Hugging Face Hub API, for tests of ``--push-to-hub``.

It serves the endpoints ``huggingface_hub`` calls to create a repo and commit files to it
(found by reading the library's ``HfApi.create_repo`` and ``create_commit``):

- ``POST /api/repos/create``: the repo's name, organization, type and visibility;
- ``POST /api/validate-yaml``: the dataset card's metadata (accepted as is);
- ``POST /api/{type}s/{owner}/{name}/preupload/{revision}``: every file is "regular", so
  its bytes come inline in the commit (no LFS or Xet transfer to stand in for);
- ``POST /api/{type}s/{owner}/{name}/commit/{revision}``: the NDJSON commit; each file's
  bytes are kept under ``repos[repo_id]``.

Every request is recorded with its headers, so a test can check the token was sent as a bearer
header and nowhere else. ``fail_commit`` makes the commit answer 500 with a multi-line body.
Point the library at it with ``HF_ENDPOINT``.
"""

from __future__ import annotations

import base64
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class HubRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class FakeHub:
    fail_commit: bool = False
    requests: list[HubRequest] = field(default_factory=list)
    created: list[dict[str, Any]] = field(default_factory=list)
    repos: dict[str, dict[str, bytes]] = field(default_factory=dict)
    commits: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> FakeHub:
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def handle(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Any:
        """(status, JSON reply) for one request."""
        with self._lock:
            self.requests.append(HubRequest(method, path, headers, body))
        route = path.split("?", 1)[0].strip("/").split("/")
        if method == "POST" and route == ["api", "repos", "create"]:
            payload = json.loads(body)
            repo_id = "/".join(p for p in (payload.get("organization"), payload["name"]) if p)
            with self._lock:
                self.created.append(payload)
                self.repos.setdefault(repo_id, {})
            return 200, {"url": f"{self.url}/datasets/{repo_id}", "name": repo_id}
        if method == "POST" and route == ["api", "validate-yaml"]:
            return 200, {"errors": [], "warnings": []}
        if method == "POST" and len(route) == 6 and route[0] == "api":
            _, repo_type, owner, name, action, _revision = route
            repo_id = f"{owner}/{name}"
            if repo_id not in self.repos:
                return 404, {"error": "Repository not found"}
            if action == "preupload":
                files = json.loads(body)["files"]
                return 200, {
                    "files": [
                        {"path": f["path"], "uploadMode": "regular", "shouldIgnore": False}
                        for f in files
                    ]
                }
            if action == "commit":
                if self.fail_commit:
                    return 500, {"error": "Internal Error\nwhile writing the commit\nretry later"}
                lines = [json.loads(line) for line in body.splitlines() if line.strip()]
                header = next(item["value"] for item in lines if item["key"] == "header")
                added = {
                    item["value"]["path"]: base64.b64decode(item["value"]["content"])
                    for item in lines
                    if item["key"] == "file"
                }
                with self._lock:
                    self.repos[repo_id].update(added)
                    self.commits.append({"repo": repo_id, "type": repo_type, **header})
                oid = f"{len(self.commits):040x}"
                return 200, {
                    "commitUrl": f"{self.url}/{repo_type}/{repo_id}/commit/{oid}",
                    "commitOid": oid,
                    "success": True,
                }
        return 404, {"error": f"no such endpoint: {method} {path}"}


def _handler(hub: FakeHub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib name
            pass

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            status, reply = hub.handle(
                self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body
            )
            data = json.dumps(reply).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            if status >= 400:
                self.send_header("X-Error-Message", str(reply.get("error", "")).split("\n")[0])
            self.end_headers()
            self.wfile.write(data)

        do_GET = _serve
        do_POST = _serve

    return Handler
