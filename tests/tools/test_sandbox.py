"""sandbox_run under bubblewrap: captured output, changed files, limits, no network, no host."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from core.config import Settings
from core.tools.builtin.sandbox_tools import sandbox_spec
from core.tools.gate import ToolGate
from core.tools.registry import ToolRegistry
from core.tools.spec import ToolResult

pytestmark = pytest.mark.skipif(
    shutil.which("bwrap") is None,
    reason="bubblewrap is not installed (scripts/system-deps.sh installs it)",
)


@pytest.fixture
def gate(tmp_path) -> ToolGate:
    settings = Settings(
        data_dir=tmp_path, sandbox_cpu_seconds=1, sandbox_memory_mb=256, sandbox_wall_seconds=5
    )
    skill = tmp_path / "skills" / "csv-tools"
    (skill / "scripts").mkdir(parents=True)
    (skill / "scripts" / "count.py").write_text(
        "import sys\nprint(len(open(sys.argv[1]).readlines()))\n"
    )
    specs = sandbox_spec(settings, lambda name: skill if name == "csv-tools" else None)
    assert [s.name for s in specs] == ["sandbox_run"], "bubblewrap could not create a sandbox"
    return ToolGate(ToolRegistry(specs))


async def run(gate: ToolGate, make_ctx, **args) -> ToolResult:
    verdict = gate.judge("acme", "alice", "sandbox_run", args)
    assert verdict.outcome == "allow", verdict  # level 1: no approval by default
    return await gate.execute(gate.registry.get("sandbox_run"), args, make_ctx(None))


async def test_captures_exit_code_output_duration_and_changed_files(gate, make_ctx):
    result = await run(
        gate,
        make_ctx,
        command="cat in.txt; echo made > out.txt; rm old.txt; echo oops >&2; exit 3",
        files={"in.txt": "hello\n", "old.txt": "bye", "keep/same.txt": "x"},
    )
    assert result.status == "succeeded" and result.message == "exit code 3"
    data = result.data
    assert (data["exit_code"], data["stdout"], data["stderr"]) == (3, "hello\n", "oops\n")
    assert data["duration_ms"] >= 0 and data["sandbox_id"].startswith("sbx_")
    assert data["files_changed"] == [
        {"path": "old.txt", "change": "deleted"},
        {"path": "out.txt", "change": "created", "size": 5, "text": "made\n"},
    ]


async def test_python_code_with_stdin_and_argv(gate, make_ctx):
    result = await run(
        gate, make_ctx, argv=["python3", "-c", "import sys; print(sys.stdin.read()[::-1])"],
        stdin="abc",
    )  # fmt: skip
    assert result.data["stdout"] == "cba\n"


async def test_no_network_no_host_files_no_privilege(gate, make_ctx):
    probe = (
        "import os, socket\n"
        "try:\n    socket.create_connection(('127.0.0.1', 5432), 2); print('net: open')\n"
        "except OSError as e:\n    print('net:', e.errno)\n"
        "print('uid:', os.getuid())\n"
        "print('host:', [p for p in ('/work/main', '/root', '/etc/shadow') if os.path.exists(p)])\n"
        "print('env:', sorted(k for k in os.environ if k.startswith('BATON')))\n"
        "print('cwd:', os.getcwd(), os.listdir('/'))\n"
    )
    result = await run(gate, make_ctx, argv=["python3", "-c", probe])
    lines = result.data["stdout"].splitlines()
    assert lines[0] in ("net: 111", "net: 101")  # refused/unreachable: an empty namespace
    assert lines[1] != "uid: 0"
    assert lines[2] == "host: []"
    assert lines[3] == "env: []"
    assert lines[4].startswith("cwd: /work")
    # the Postgres server on the host is really there: the sandbox just cannot see it
    assert "work" in lines[4]


async def test_cpu_memory_and_wall_clock_limits(gate, make_ctx):
    spin = await run(gate, make_ctx, argv=["python3", "-c", "while True: pass"])
    assert spin.data["signal"] in ("SIGXCPU", "SIGKILL")
    hog = await run(gate, make_ctx, argv=["python3", "-c", "x = bytearray(600 * 1024 * 1024)"])
    assert hog.data["exit_code"] != 0 and "MemoryError" in hog.data["stderr"]
    slow = await run(gate, make_ctx, command="sleep 30", timeout_s=0.5)
    assert (slow.status, slow.error_type) == ("failed", "wall_clock_exceeded")
    assert slow.data["timed_out"] is True and slow.data["duration_ms"] < 5000
    noisy = await run(gate, make_ctx, command="yes | head -c 200000")
    assert noisy.data["stdout_truncated"] is True and len(noisy.data["stdout"]) == 65536


async def test_process_count_is_limited_when_baton_runs_as_root(gate, make_ctx):
    import os

    if os.geteuid() != 0:
        pytest.skip("RLIMIT_NPROC is only applied when Baton drops from root to nobody")
    result = await run(gate, make_ctx, command="for i in $(seq 1 200); do sleep 2 & done; wait")
    assert result.data["exit_code"] != 0
    assert "fork" in result.data["stderr"].lower()


async def test_a_skill_folder_is_mounted_read_only(gate, make_ctx):
    result = await run(
        gate, make_ctx, skill="csv-tools", files={"data.csv": "a\nb\nc\n"},
        command="python3 /skill/scripts/count.py data.csv; touch /skill/x 2>&1 || true",
    )  # fmt: skip
    out = result.data["stdout"].splitlines()
    assert out[0] == "3"
    assert "Read-only file system" in out[1]
    missing = await run(gate, make_ctx, skill="nope", command="true")
    assert missing.error_type == "not_found"


async def test_bad_file_names_are_refused(gate, make_ctx):
    result = await run(gate, make_ctx, command="true", files={"../escape.txt": "x"})
    assert result.error_type == "invalid_arguments"
    both = await run(gate, make_ctx, command="true", argv=["true"])
    assert both.error_type == "invalid_arguments"


def test_without_bubblewrap_there_is_no_sandbox_tool(tmp_path):
    settings = Settings(data_dir=tmp_path, sandbox_bwrap=str(Path("/nonexistent/bwrap")))
    assert sandbox_spec(settings) == []
