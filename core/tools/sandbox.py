"""Run a command in a sandbox: bubblewrap namespaces plus kernel resource limits.

Isolation comes from bubblewrap (Debian package ``bubblewrap``): fresh user, PID, network,
IPC, UTS and mount namespaces; the network namespace holds only a loopback that nothing
listens on, so there is no egress. The filesystem view is ``/usr`` (plus the few ``/etc``
files programs need) read-only, a private ``/tmp``, ``/proc``, a minimal ``/dev`` and a fresh
scratch directory at ``/work`` — never Baton's code, data, database or environment. All
capabilities are dropped and the environment is cleared.

Limits come from ``setrlimit`` in the child before bubblewrap starts (inherited by everything
inside): CPU seconds (SIGXCPU, then SIGKILL), address space, file size, open files, core
dumps, and - when Baton runs as root and drops to an unprivileged uid for the sandbox - the
number of processes (fork bombs). Wall-clock time is enforced from outside: the bubblewrap
process group is killed, and since the sandbox's init dies with its parent, so does every
process in the sandbox's PID namespace.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import resource
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path, PurePosixPath
from typing import Any

from core.ids import new_id

ETC_FILES = (
    "/etc/alternatives",
    "/etc/ld.so.cache",
    "/etc/ld.so.conf",
    "/etc/ld.so.conf.d",
    "/etc/localtime",
    "/etc/passwd",
    "/etc/group",
    "/etc/nsswitch.conf",
)
ROOT_LINKS = ("bin", "sbin", "lib", "lib32", "lib64", "libx32")
PREVIEW_BYTES = 4000
PREVIEW_TOTAL = 20_000
MAX_LISTED_FILES = 100
NOBODY = 65534


class SandboxUnavailable(RuntimeError):
    """bubblewrap is missing or cannot create namespaces on this machine."""


@dataclass(frozen=True)
class SandboxLimits:
    """What one sandboxed command may use."""

    cpu_seconds: int = 10
    memory_mb: int = 512
    wall_seconds: float = 30.0
    max_output_bytes: int = 65536
    max_file_mb: int = 64
    max_processes: int = 64
    max_open_files: int = 256


@dataclass
class SandboxResult:
    """What happened, in the shape the blueprint asks of a CLI tool result."""

    sandbox_id: str
    command: str
    exit_code: int | None
    signal: str | None
    stdout: str
    stderr: str
    stdout_truncated: bool
    stderr_truncated: bool
    duration_ms: int
    timed_out: bool
    files_changed: list[dict[str, Any]] = field(default_factory=list)
    limits: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON data."""
        return asdict(self)


class Sandbox:
    """Runs commands under bubblewrap with resource limits, each in a fresh scratch dir."""

    def __init__(
        self,
        bwrap: str = "bwrap",
        limits: SandboxLimits | None = None,
        scratch_root: Path | None = None,
    ) -> None:
        self.bwrap = shutil.which(bwrap) or bwrap
        self.limits = limits or SandboxLimits()
        self.scratch_root = scratch_root
        # As root, run bubblewrap as nobody: the sandbox then has no privilege to fall back
        # on outside its namespaces, and RLIMIT_NPROC applies (it never binds root).
        self.run_as = NOBODY if os.geteuid() == 0 else None

    def probe(self) -> None:
        """Raise SandboxUnavailable unless a trivial sandboxed command runs here."""
        if not Path(self.bwrap).is_file():
            raise SandboxUnavailable(f"no bubblewrap at {self.bwrap}: apt-get install bubblewrap")
        with tempfile.TemporaryDirectory(prefix="sbx-probe-", dir=self.scratch_root) as scratch:
            self._own(Path(scratch))
            proc = subprocess.run(
                self._argv(Path(scratch), ["/bin/true"], {}),
                capture_output=True,
                timeout=20,
                preexec_fn=self._preexec(self.limits),
            )
        if proc.returncode != 0:
            reason = proc.stderr.decode(errors="replace").strip()
            raise SandboxUnavailable(f"bubblewrap cannot create a sandbox here: {reason}")

    async def run(
        self,
        argv: list[str],
        files: dict[str, str] | None = None,
        stdin: str | None = None,
        read_only: dict[str, Path] | None = None,
        wall_seconds: float | None = None,
    ) -> SandboxResult:
        """Run ``argv`` in a fresh sandbox seeded with ``files``; report what it did.

        ``read_only`` maps paths inside the sandbox to host folders mounted read-only (a skill's
        scripts). Everything the run used is deleted afterwards, whatever happens.
        """
        limits = self.limits
        if wall_seconds is not None:
            limits = replace(limits, wall_seconds=min(wall_seconds, limits.wall_seconds))
        sandbox_id = new_id("sbx")
        if self.scratch_root is not None:
            self.scratch_root.mkdir(parents=True, exist_ok=True)
        base = Path(tempfile.mkdtemp(prefix=f"{sandbox_id}-", dir=self.scratch_root))
        scratch = base / "work"
        try:
            scratch.mkdir()
            _seed(scratch, files or {})
            # Read-only folders are copied next to the scratch dir: the sandbox (nobody, when
            # Baton is root) may not be able to reach the originals, and never writes them.
            mounts: dict[str, Path] = {}
            for i, (target, host_dir) in enumerate((read_only or {}).items()):
                mounts[target] = shutil.copytree(host_dir, base / f"ro-{i}", symlinks=True)
            self._own(base)
            before = _snapshot(scratch)
            started = time.monotonic()
            proc = await asyncio.create_subprocess_exec(
                *self._argv(scratch, argv, mounts),
                stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                preexec_fn=self._preexec(limits),
                start_new_session=True,
            )
            timed_out = False
            try:
                out, err = await asyncio.wait_for(
                    self._communicate(proc, stdin, limits.max_output_bytes), limits.wall_seconds
                )
            except TimeoutError:
                timed_out = True
                _kill(proc)
                await proc.wait()
                out, err = (b"", False), (b"", False)
            finally:
                if proc.returncode is None:
                    _kill(proc)
                    with contextlib.suppress(ProcessLookupError):
                        await proc.wait()
            duration_ms = int((time.monotonic() - started) * 1000)
            code = proc.returncode
            return SandboxResult(
                sandbox_id=sandbox_id,
                command=" ".join(argv),
                exit_code=None if timed_out else code,
                signal=_signal_name(code, timed_out),
                stdout=out[0].decode(errors="replace"),
                stderr=err[0].decode(errors="replace"),
                stdout_truncated=out[1],
                stderr_truncated=err[1],
                duration_ms=duration_ms,
                timed_out=timed_out,
                files_changed=_changes(scratch, before, _snapshot(scratch)),
                limits=asdict(limits),
            )
        finally:
            shutil.rmtree(base, ignore_errors=True)

    # ----- internals -----------------------------------------------------------------------

    def _own(self, scratch: Path) -> None:
        if self.run_as is None:
            return
        for path in [scratch, *scratch.rglob("*")]:
            os.chown(path, self.run_as, self.run_as, follow_symlinks=False)

    def _argv(self, scratch: Path, argv: list[str], read_only: dict[str, Path]) -> list[str]:
        args = [
            self.bwrap,
            "--unshare-all",
            "--die-with-parent",
            "--new-session",
            "--cap-drop",
            "ALL",
            "--hostname",
            "sandbox",
            "--ro-bind",
            "/usr",
            "/usr",
        ]
        for name in ROOT_LINKS:
            host = Path("/") / name
            if host.is_symlink():
                args += ["--symlink", os.readlink(host), f"/{name}"]
            elif host.is_dir():
                args += ["--ro-bind", str(host), f"/{name}"]
        for path in ETC_FILES:
            args += ["--ro-bind-try", path, path]
        args += ["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"]
        args += ["--bind", str(scratch), "/work"]
        for target, host_dir in read_only.items():
            args += ["--ro-bind", str(host_dir), target]
        args += ["--chdir", "/work", "--clearenv"]
        env = {
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "HOME": "/work",
            "TMPDIR": "/tmp",
            "LANG": "C.UTF-8",
            "PYTHONDONTWRITEBYTECODE": "1",
        }
        for key, value in env.items():
            args += ["--setenv", key, value]
        return [*args, "--", *argv]

    def _preexec(self, limits: SandboxLimits) -> Any:
        run_as = self.run_as

        def limit() -> None:
            mb = 1024 * 1024
            resource.setrlimit(resource.RLIMIT_CPU, (limits.cpu_seconds, limits.cpu_seconds + 1))
            resource.setrlimit(resource.RLIMIT_AS, (limits.memory_mb * mb,) * 2)
            resource.setrlimit(resource.RLIMIT_FSIZE, (limits.max_file_mb * mb,) * 2)
            resource.setrlimit(resource.RLIMIT_NOFILE, (limits.max_open_files,) * 2)
            resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
            if run_as is not None:
                resource.setrlimit(resource.RLIMIT_NPROC, (limits.max_processes,) * 2)
                os.setgroups([])
                os.setgid(run_as)
                os.setuid(run_as)

        return limit

    @staticmethod
    async def _communicate(
        proc: asyncio.subprocess.Process, stdin: str | None, cap: int
    ) -> tuple[tuple[bytes, bool], tuple[bytes, bool]]:
        async def feed() -> None:
            if proc.stdin is None:
                return
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                proc.stdin.write((stdin or "").encode())
                await proc.stdin.drain()
            proc.stdin.close()

        assert proc.stdout is not None and proc.stderr is not None
        _, out, err, _ = await asyncio.gather(
            feed(), _read_capped(proc.stdout, cap), _read_capped(proc.stderr, cap), proc.wait()
        )
        return out, err


async def _read_capped(stream: asyncio.StreamReader, cap: int) -> tuple[bytes, bool]:
    """Read to EOF, keeping the first ``cap`` bytes (the rest is drained, not kept)."""
    kept = bytearray()
    truncated = False
    while chunk := await stream.read(65536):
        room = cap - len(kept)
        if room > 0:
            kept += chunk[:room]
        if len(chunk) > room:
            truncated = True
    return bytes(kept), truncated


def _kill(proc: asyncio.subprocess.Process) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(ProcessLookupError):
        proc.kill()


def _signal_name(code: int | None, timed_out: bool) -> str | None:
    if timed_out:
        return "SIGKILL"
    if code is None:
        return None
    # bubblewrap reports a child killed by signal N as exit status 128 + N.
    number = -code if code < 0 else code - 128 if 128 < code < 128 + 65 else 0
    if not number:
        return None
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def _seed(scratch: Path, files: dict[str, str]) -> None:
    for name, content in files.items():
        rel = PurePosixPath(name)
        if rel.is_absolute() or ".." in rel.parts or not rel.parts:
            raise ValueError(f"file names must be relative paths inside the sandbox: {name!r}")
        target = scratch.joinpath(*rel.parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content)


def _snapshot(root: Path) -> dict[str, tuple[int, str]]:
    seen: dict[str, tuple[int, str]] = {}
    for path in root.rglob("*"):
        if path.is_file() and not path.is_symlink():
            data = path.read_bytes()
            seen[path.relative_to(root).as_posix()] = (len(data), hashlib.sha256(data).hexdigest())
    return seen


def _changes(
    root: Path, before: dict[str, tuple[int, str]], after: dict[str, tuple[int, str]]
) -> list[dict[str, Any]]:
    changes: list[dict[str, Any]] = []
    budget = PREVIEW_TOTAL
    for name in sorted(set(before) | set(after)):
        if name in after and before.get(name) == after[name]:
            continue
        kind = "deleted" if name not in after else "created" if name not in before else "modified"
        entry: dict[str, Any] = {"path": name, "change": kind}
        if kind != "deleted":
            size = after[name][0]
            entry["size"] = size
            if size <= min(PREVIEW_BYTES, budget):
                with contextlib.suppress(UnicodeDecodeError, OSError):
                    entry["text"] = (root / name).read_bytes().decode("utf-8")
                    budget -= size
        changes.append(entry)
        if len(changes) >= MAX_LISTED_FILES:
            break
    return changes
