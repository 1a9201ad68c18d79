"""A loopback OpenAI-compatible server for tests and benchmarks.

Serves ``POST /v1/chat/completions`` (tool-call replies for instructor's TOOLS mode, JSON
content for JSON / JSON_SCHEMA / MD_JSON), ``GET /v1/models``, ``/v1/files`` (upload, content)
and ``/v1/batches`` (create, retrieve). What each chat request gets back is decided by a
*script*: a callable that reads the request (draft kind, chunk text, requested count, schema
name) and returns a ``Reply`` (a payload, or a fault). Every request is recorded so tests can
assert re-asks, attempts, headers and the exact schema sent.

Servers that fall short of the OpenAI API can be played too: ``refusing`` answers chosen
modes with the error a server that lacks them gives (llama-cpp-python's server answers a
``json_schema`` response format with a 500), ``models_missing`` drops ``GET /v1/models``, and
``Reply.die()`` makes the server stop as a crashed one does: the listening socket closes
(connection refused) and every open connection is dropped without an answer.

Run on its own for the benchmark::

    python -m tests.support.fake_openai --port 8999 --latency 1.0
"""

from __future__ import annotations

import argparse
import json
import random
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from email.parser import BytesParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

DOC_FENCE = re.compile(r"<<<DOC\n(.*?)\nDOC>>>", re.S)
KIND_LINE = re.compile(r"Draft kind: (\S+)")
COUNT_LINE = re.compile(r"Number of drafts: (\d+)")


@dataclass
class ChatRequest:
    body: dict[str, Any]
    headers: dict[str, str]
    path: str
    received_at: float

    @property
    def all_text(self) -> str:
        return "\n".join(
            m["content"] for m in self.body.get("messages", []) if isinstance(m.get("content"), str)
        )

    @property
    def chunk(self) -> str:
        found = DOC_FENCE.search(self.all_text)
        return found.group(1) if found else ""

    @property
    def kind(self) -> str:
        found = KIND_LINE.search(self.all_text)
        return found.group(1) if found else "qa"

    @property
    def count(self) -> int:
        found = COUNT_LINE.search(self.all_text)
        return int(found.group(1)) if found else 1

    @property
    def is_reask(self) -> bool:
        return len(self.body.get("messages", [])) > 2

    @property
    def schema_name(self) -> str | None:
        tools = self.body.get("tools")
        if tools:
            return str(tools[0]["function"]["name"])
        fmt = self.body.get("response_format") or {}
        if fmt.get("type") == "json_schema":
            return str(fmt["json_schema"]["name"])
        return None

    @property
    def mode(self) -> str:
        if self.body.get("tools"):
            return "tools"
        fmt = (self.body.get("response_format") or {}).get("type")
        if fmt == "json_schema":
            return "json_schema"
        if fmt == "json_object":
            return "json"
        return "md_json"


@dataclass
class Reply:
    """What the server sends back. ``payload`` is the structured object (tool args / JSON)."""

    payload: dict[str, Any] | None = None
    status: int = 200
    retry_after: float | None = None
    hang_s: float = 0.0  # sleep this long before answering (a hang past the client timeout)
    raw_body: bytes | None = None  # sent as-is (e.g. malformed JSON)
    latency_s: float | None = None  # overrides the server's latency for this reply
    # The tool arguments (or JSON content) sent as-is instead of ``payload``: the model's
    # output itself malformed, inside a well-formed HTTP reply.
    raw_arguments: str | None = None
    error_message: str | None = None  # the error body's message for a non-200 status
    finish_reason: str | None = None  # e.g. "length": the reply was cut at max_tokens
    die: bool = False  # the server crashes on this request (see ``Reply.died``)
    # A plain chat reply (a model answering a user, not a structured call): the message's
    # content as-is, ``payload`` unused.
    content: str | None = None

    @classmethod
    def text(cls, content: str) -> Reply:
        return cls(content=content)

    @classmethod
    def rate_limited(cls, retry_after: float = 0.01) -> Reply:
        return cls(status=429, retry_after=retry_after)

    @classmethod
    def server_error(cls) -> Reply:
        return cls(status=500)

    @classmethod
    def hang(cls, seconds: float) -> Reply:
        return cls(hang_s=seconds)

    @classmethod
    def died(cls) -> Reply:
        """The server crashes while answering: nothing is sent, and it answers no more."""
        return cls(die=True)

    @classmethod
    def malformed(cls) -> Reply:
        return cls(raw_body=b'{"id": "x", "choices": [ this is not json')


Script = Callable[[ChatRequest], Reply]


# ---- a default script: grounded, valid replies for every kind ----------------------------

WRONG_UI_NAME = "Control Tower"


def first_quote(chunk: str) -> str:
    """A short verbatim quote from the chunk: its first non-heading line's first words."""
    for line in chunk.splitlines():
        text = line.strip()
        if text and not text.startswith("#"):
            return " ".join(text.split()[:8])
    return " ".join(chunk.split()[:6])


def heading_of(chunk: str) -> str:
    for line in chunk.splitlines():
        if line.strip():
            return line.strip("# ").strip()
    return "this page"


def default_items(request: ChatRequest, feature: str = "tip pooling") -> list[dict[str, Any]]:
    chunk, quote, topic = request.chunk, first_quote(request.chunk), heading_of(request.chunk)
    kind, _, subtype = request.kind.partition("/")
    items: list[dict[str, Any]] = []
    for i in range(request.count):
        tag = f"{topic} #{i + 1}"
        if kind == "qa":
            items.append(
                {
                    "question": f"What should I know about {tag}?",
                    "answer": f"The docs say: {quote}.",
                    "evidence": [quote],
                }
            )
        elif kind == "negative":
            items.append(
                {
                    "question": f"Can Tidepool do {feature} for {tag}?",
                    "answer": f"No, Tidepool does not offer {feature}. Instead: {quote}.",
                    "feature": feature,
                    "search_terms": [feature],
                    "evidence": [quote],
                }
            )
        elif kind == "adversarial":
            item: dict[str, Any] = {
                "subtype": subtype or "false_premise",
                "question": f"[{subtype}] Question about {tag}?",
                "answer": f"That is not quite right. {quote}.",
                "evidence": [quote],
            }
            if subtype == "wrong_ui_name":
                real = request_real_path(request)
                item["wrong_name"] = WRONG_UI_NAME
                item["real_path"] = real
                item["question"] = f"Where is the {WRONG_UI_NAME} for {tag}?"
                item["answer"] = f"There is no {WRONG_UI_NAME}; open {real} instead."
            items.append(item)
        else:
            items.append(
                {
                    "question": f"How do I handle {tag}?",
                    "answer": f"Which one do you mean for {tag}: the first or the second?",
                    "interpretations": ["the first", "the second"],
                    "evidence": [quote],
                }
            )
    del chunk
    return items


PATH_IN_BOLD = re.compile(r"\*\*([^*]+?>[^*]+?)\*\*")


def request_real_path(request: ChatRequest) -> str:
    """A real navigation path from the chunk (bold ``A > B``), else one from the prompt."""
    for source in (request.chunk, request.all_text):
        found = PATH_IN_BOLD.search(source)
        if found:
            return found.group(1).strip()
    return "Settings"


def default_script(request: ChatRequest) -> Reply:
    return Reply(payload={"items": default_items(request)})


# What llama-cpp-python's server (0.3.x) answers a json_schema response format with.
JSON_SCHEMA_REFUSAL = (
    "1 validation error for CreateChatCompletionRequest response_format.type "
    "Input should be 'text' or 'json_object' [type=literal_error, input_value='json_schema']"
)


def refusing(refused: dict[str, Reply], then: Script = default_script) -> Script:
    """A script for a server that answers the modes in ``refused`` with the given fault (by
    ``ChatRequest.mode``) and every other request as ``then`` does."""

    def script(request: ChatRequest) -> Reply:
        fault = refused.get(request.mode)
        return fault if fault is not None else then(request)

    return script


# ---- the HTTP server ---------------------------------------------------------------------


class FakeOpenAI:
    def __init__(
        self,
        script: Script | None = None,
        *,
        latency_s: float = 0.0,
        latency_jitter: float = 0.0,
        rpm_limit: int | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.script: Script = script or default_script
        self.latency_s = latency_s
        # Real endpoints answer in varying times. A fixed latency keeps every worker of a
        # benchmark in lock-step waves (all replies land at once, then all requests leave at
        # once), which no real endpoint does; a jitter of 0.25 draws each latency uniformly
        # from 0.75x to 1.25x, keeping the mean. Seeded so runs are comparable.
        self.latency_jitter = latency_jitter
        self._random = random.Random(0)
        self.requests: list[ChatRequest] = []
        self.files: dict[str, bytes] = {}
        self.batches: dict[str, dict[str, Any]] = {}
        self.rate_limited_count = 0
        # The latencies actually drawn: a benchmark's ideal rate uses their mean, not the
        # nominal one (a few hundred uniform draws stray from it by a percent or so).
        self.latency_drawn_s = 0.0
        self.latency_draws = 0
        # When set, a request whose bearer token differs gets a 401 that echoes the token it
        # presented (as some providers do, in part): the worst case for a key in an error.
        self.accepted_key: str | None = None
        # While set, batches stay in_progress however often they are polled (an interrupt
        # can then be placed between creating a batch and collecting it).
        self.hold_batches = False
        # When set, GET /v1/models is a 404, as on servers that do not list their models.
        self.models_missing = False
        # Set by a ``Reply.died()``: the server answers nothing any more.
        self.dead = False
        self._lock = threading.Lock()
        self._seq = 0
        # A server-side RPM limit (token bucket, 2 s of burst) so a benchmark can see whether
        # the client's own pacing ever meets a 429.
        self._rpm_limit = rpm_limit
        self._bucket = float(rpm_limit) / 30 if rpm_limit else 0.0
        self._bucket_at = time.monotonic()
        handler = _make_handler(self)
        self.httpd = _QuietServer((host, port), handler)
        self.httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self.httpd.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> FakeOpenAI:
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def crash(self) -> None:
        """Stop answering as a crashed process does: refuse new connections and drop the open
        ones (each handler checks ``dead`` before answering)."""
        self.dead = True
        threading.Thread(target=self.stop, daemon=True).start()

    def chat_requests(self) -> list[ChatRequest]:
        with self._lock:
            return [r for r in self.requests if r.path.endswith("/chat/completions")]

    def next_id(self, prefix: str) -> str:
        with self._lock:
            self._seq += 1
            return f"{prefix}-{self._seq}"

    def over_rpm(self) -> bool:
        if not self._rpm_limit:
            return False
        with self._lock:
            now = time.monotonic()
            rate = self._rpm_limit / 60.0
            self._bucket = min(self._rpm_limit / 30, self._bucket + (now - self._bucket_at) * rate)
            self._bucket_at = now
            if self._bucket < 1:
                self.rate_limited_count += 1
                return True
            self._bucket -= 1
            return False

    # A chat completion as the OpenAI API returns it, for a payload in the request's mode.
    def completion_for(
        self,
        request: ChatRequest,
        payload: dict[str, Any],
        raw_arguments: str | None = None,
        finish_reason: str | None = None,
        content: str | None = None,
    ) -> dict[str, Any]:
        text = json.dumps(payload) if raw_arguments is None else raw_arguments
        message: dict[str, Any] = {"role": "assistant", "content": None}
        finish = ""
        if content is not None:
            text = content
            message["content"] = content
            finish = "stop"
        elif request.mode == "tools":
            message["tool_calls"] = [
                {
                    "id": self.next_id("call"),
                    "type": "function",
                    "function": {"name": request.schema_name, "arguments": text},
                }
            ]
            finish = "tool_calls"
        else:
            message["content"] = f"```json\n{text}\n```" if request.mode == "md_json" else text
            finish = "stop"
        prompt_tokens = max(1, len(json.dumps(request.body.get("messages", []))) // 4)
        return {
            "id": self.next_id("chatcmpl"),
            "object": "chat.completion",
            "created": int(time.time()),
            "model": request.body.get("model", "fake"),
            "choices": [{"index": 0, "message": message, "finish_reason": finish_reason or finish}],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": max(1, len(text) // 4),
                "total_tokens": prompt_tokens + max(1, len(text) // 4),
            },
        }

    def run_batch(self, batch_id: str) -> None:
        """Answer every line of a batch's input file through the script; write the output."""
        batch = self.batches[batch_id]
        lines_out = []
        for line in self.files[batch["input_file_id"]].decode().splitlines():
            if not line.strip():
                continue
            item = json.loads(line)
            request = ChatRequest(item["body"], {}, "/v1/chat/completions", time.monotonic())
            reply = self.script(request)
            if reply.status != 200 or (reply.payload is None and reply.raw_arguments is None):
                message = reply.error_message or "fault"
                response = {"status_code": reply.status or 500, "body": {"error": message}}
            else:
                completion = self.completion_for(request, reply.payload or {}, reply.raw_arguments)
                response = {"status_code": 200, "body": completion}
            lines_out.append(
                json.dumps(
                    {
                        "id": self.next_id("batchreq"),
                        "custom_id": item["custom_id"],
                        "response": response,
                        "error": None,
                    }
                )
            )
        out_id = self.next_id("file")
        self.files[out_id] = ("\n".join(lines_out) + "\n").encode()
        batch["output_file_id"] = out_id
        batch["request_counts"] = {
            "total": len(lines_out),
            "completed": len(lines_out),
            "failed": 0,
        }


class _QuietServer(ThreadingHTTPServer):
    # A deep listen backlog: the benchmark opens hundreds of connections at once.
    request_queue_size = 1024
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that gave up (timeout test) leaves a broken pipe: not an error here."""


def _make_handler(server: FakeOpenAI) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body go out in two writes; with Nagle on, the second waits for the
        # client's delayed ACK (~40 ms a reply), which would swamp the injected latency.
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            """Silence per-request logging."""

        def _send_json(self, status: int, obj: Any, extra: dict[str, str] | None = None) -> None:
            self._send(status, json.dumps(obj).encode(), extra)

        def _send(self, status: int, data: bytes, extra: dict[str, str] | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for key, value in (extra or {}).items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(data)

        def _dropped(self) -> bool:
            """A crashed server's open connection: closed without an answer."""
            if not server.dead:
                return False
            self.close_connection = True
            with suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return True

        def _body(self) -> bytes:
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length) if length else b""

        def _record(self, body: dict[str, Any]) -> ChatRequest:
            request = ChatRequest(body, dict(self.headers.items()), self.path, time.monotonic())
            with server._lock:
                server.requests.append(request)
            return request

        def _refused_key(self) -> bool:
            if server.accepted_key is None:
                return False
            presented = self.headers.get("Authorization", "").removeprefix("Bearer ")
            if presented == server.accepted_key:
                return False
            message = f"Incorrect API key provided: {presented}."
            self._send_json(401, {"error": {"message": message, "code": "invalid_api_key"}})
            return True

        def do_GET(self) -> None:  # noqa: N802
            self._record({})
            if self._dropped() or self._refused_key():
                return
            if self.path.rstrip("/") == "/v1/models" and not server.models_missing:
                self._send_json(
                    200,
                    {
                        "object": "list",
                        "data": [
                            {
                                "id": "fake-model",
                                "object": "model",
                                "created": 0,
                                "owned_by": "test",
                            }
                        ],
                    },
                )
                return
            if self.path == "/v1/_stats":
                self._send_json(
                    200,
                    {
                        "chat_requests": len(server.chat_requests()),
                        "rate_limited": server.rate_limited_count,
                        "latency_drawn_s": server.latency_drawn_s,
                        "latency_draws": server.latency_draws,
                    },
                )
                return
            match = re.fullmatch(r"/v1/files/([^/]+)/content", self.path)
            if match and match.group(1) in server.files:
                self._send(200, server.files[match.group(1)])
                return
            match = re.fullmatch(r"/v1/batches/([^/]+)", self.path)
            if match and match.group(1) in server.batches:
                batch = server.batches[match.group(1)]
                # The first retrieve sees it in progress, so a client must poll.
                if batch["status"] == "validating":
                    batch["status"] = "in_progress"
                elif batch["status"] == "in_progress" and not server.hold_batches:
                    server.run_batch(batch["id"])
                    batch["status"] = "completed"
                self._send_json(200, batch)
                return
            self._send_json(404, {"error": {"message": "not found"}})

        def do_POST(self) -> None:  # noqa: N802
            raw = self._body()
            if self._refused_key():
                self._record({})  # kept, so a test can see which key was presented
                return
            if self.path == "/v1/files":
                self._upload(raw)
                return
            if self.path == "/v1/batches":
                body = json.loads(raw)
                self._record(body)
                batch_id = server.next_id("batch")
                server.batches[batch_id] = {
                    "id": batch_id,
                    "object": "batch",
                    "endpoint": body["endpoint"],
                    "input_file_id": body["input_file_id"],
                    "completion_window": body["completion_window"],
                    "status": "validating",
                    "created_at": int(time.time()),
                    "output_file_id": None,
                    "error_file_id": None,
                    "errors": None,
                }
                self._send_json(200, server.batches[batch_id])
                return
            if not self.path.endswith("/chat/completions"):
                self._send_json(404, {"error": {"message": "not found"}})
                return
            try:
                body = json.loads(raw)
            except json.JSONDecodeError:
                self._send_json(400, {"error": {"message": "bad json"}})
                return
            request = self._record(body)
            if self._dropped():
                return
            if server.over_rpm():
                self._send_json(429, {"error": {"message": "rate limited"}}, {"Retry-After": "1"})
                return
            reply = server.script(request)
            if reply.die:
                server.crash()
                self._dropped()
                return
            latency = server.latency_s if reply.latency_s is None else reply.latency_s
            if latency and server.latency_jitter and reply.latency_s is None:
                with server._lock:
                    spread = server._random.uniform(-1.0, 1.0) * server.latency_jitter
                latency *= 1.0 + spread
            if latency:
                with server._lock:
                    server.latency_drawn_s += latency
                    server.latency_draws += 1
            if latency or reply.hang_s:
                time.sleep(latency + reply.hang_s)
            if reply.raw_body is not None:
                self._send(200, reply.raw_body)
                return
            if reply.status != 200:
                extra = {}
                if reply.retry_after is not None:
                    extra["Retry-After"] = f"{reply.retry_after:g}"
                message = reply.error_message or f"fault {reply.status}"
                self._send_json(reply.status, {"error": {"message": message}}, extra)
                return
            completion = server.completion_for(
                request,
                reply.payload or {},
                reply.raw_arguments,
                reply.finish_reason,
                reply.content,
            )
            self._send_json(200, completion)

        def _upload(self, raw: bytes) -> None:
            content_type = self.headers.get("Content-Type", "")
            message = BytesParser().parsebytes(
                b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + raw
            )
            data = b""
            purpose = ""
            filename = "upload.jsonl"
            for part in message.walk():
                if part.is_multipart():
                    continue
                name = part.get_param("name", header="content-disposition")
                payload = part.get_payload(decode=True) or b""
                if name == "file":
                    data = payload
                    filename = str(part.get_filename() or filename)
                elif name == "purpose":
                    purpose = payload.decode()
            self._record({"purpose": purpose, "filename": filename})
            file_id = server.next_id("file")
            server.files[file_id] = data
            self._send_json(
                200,
                {
                    "id": file_id,
                    "object": "file",
                    "bytes": len(data),
                    "created_at": int(time.time()),
                    "filename": filename,
                    "purpose": purpose,
                    "status": "processed",
                },
            )

    return Handler


@contextmanager
def running(script: Script | None = None, **kwargs: Any) -> Iterator[FakeOpenAI]:
    server = FakeOpenAI(script, **kwargs).start()
    try:
        yield server
    finally:
        server.stop()


# ---- a tuned model: plain chat answers -----------------------------------------------------


def last_user_message(request: ChatRequest) -> str:
    for message in reversed(request.body.get("messages", [])):
        if message.get("role") == "user" and isinstance(message.get("content"), str):
            return str(message["content"])
    return ""


@dataclass
class TunedModel:
    """A script playing a fine-tuned model: ``answer(question)`` gives the reply text to the
    last user message of a plain chat completion. Structured calls (tools / a response format:
    an LLM judge) are answered by ``judge`` when set, else refused with a 400."""

    answer: Callable[[str], str]
    judge: Callable[[ChatRequest], dict[str, Any]] | None = None
    asked: list[str] = field(default_factory=list)
    record: bool = True  # keep every question asked (off for a long benchmark)

    def __call__(self, request: ChatRequest) -> Reply:
        if request.schema_name is not None or request.body.get("response_format"):
            if self.judge is None:
                return Reply(status=400, error_message="no structured replies here")
            return Reply(payload=self.judge(request))
        question = last_user_message(request)
        if self.record:
            self.asked.append(question)
        return Reply.text(self.answer(question))


@dataclass
class Sequenced:
    """A script that plays ``faults`` in order (one per request), then ``then`` forever."""

    faults: list[Reply]
    then: Script = default_script
    served: list[Reply] = field(default_factory=list)

    def __call__(self, request: ChatRequest) -> Reply:
        if self.faults:
            reply = self.faults.pop(0)
            self.served.append(reply)
            return reply
        return self.then(request)


def main() -> None:
    parser = argparse.ArgumentParser(description="loopback OpenAI-compatible test server")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--latency", type=float, default=0.0)
    parser.add_argument(
        "--latency-jitter",
        type=float,
        default=0.0,
        help="spread each latency uniformly over +/- this fraction of --latency",
    )
    parser.add_argument("--rpm-limit", type=int, default=None)
    parser.add_argument(
        "--refuse",
        action="append",
        default=[],
        choices=["tools", "json_schema", "json", "md_json"],
        help="answer this mode with a 500 (as a server lacking it does); repeatable",
    )
    parser.add_argument(
        "--plain-answer",
        metavar="TEXT",
        help="answer plain chat completions with TEXT (a tuned model under probe)",
    )
    args = parser.parse_args()
    refusal = Reply(status=500, error_message=JSON_SCHEMA_REFUSAL)
    script: Script | None = None
    if args.plain_answer is not None:
        plain = args.plain_answer
        script = TunedModel(lambda _question: plain, record=False)
    elif args.refuse:
        script = refusing(dict.fromkeys(args.refuse, refusal))
    server = FakeOpenAI(
        script,
        latency_s=args.latency,
        latency_jitter=args.latency_jitter,
        rpm_limit=args.rpm_limit,
        port=args.port,
    )
    print(f"listening {server.port}", flush=True)
    try:
        server.httpd.serve_forever()
    except KeyboardInterrupt:
        server.stop()


if __name__ == "__main__":
    main()
