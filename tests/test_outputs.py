"""Outputs that can never destroy data, interrupts that leave nothing behind, byte-identical
results, and usage errors in one line (issue #18)."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import xarray as xr
from typer.testing import CliRunner

from cli.app import app
from econ.errors import OutputError
from econ.io.write import check_output, clean_stale_temps, write_atomic
from econ.model import memory

TOY = Path(__file__).parent / "data" / "toy"
RUN = ["run", "--inputs", str(TOY), str(TOY / "scen" / "closure.toml"), "--format", "csv"]


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def one_error_line(result, code: int = 1) -> str:
    assert result.exit_code == code, (result.exit_code, result.output)
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.output
    return lines[0]


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


# --------------------------------------------------------------------------- --out targets


def test_out_refuses_a_symlink(runner, tmp_path: Path) -> None:
    target = tmp_path / "precious.txt"
    target.write_text("keep me")
    link = tmp_path / "x.nc"
    link.symlink_to(target)
    line = one_error_line(runner.invoke(app, [*RUN, "--out", str(link), "--force"]))
    assert "symbolic link" in line
    assert link.is_symlink() and target.read_text() == "keep me"


@pytest.mark.parametrize("path", ["/dev/null", "/dev/stdout", "/proc/self/fd/1", "/sys/x.nc"])
def test_out_refuses_system_paths(runner, path: str) -> None:
    line = one_error_line(runner.invoke(app, [*RUN, "--out", path, "--force"]))
    assert "is under /" in line


def test_out_refuses_a_pipe_and_a_directory(runner, tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.nc"
    os.mkfifo(fifo)
    assert "is a pipe" in one_error_line(runner.invoke(app, [*RUN, "--out", str(fifo)]))
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    with pytest.raises(OutputError, match="is a directory"):
        check_output(tmp_path, suffixes=(".nc",), force=True)


def test_out_existing_file_needs_force(runner, tmp_path: Path) -> None:
    out = tmp_path / "x.nc"
    out.write_bytes(b"earlier result")
    line = one_error_line(runner.invoke(app, [*RUN, "--out", str(out)]))
    assert "exists" in line and "--force" in line
    assert out.read_bytes() == b"earlier result"
    result = runner.invoke(app, [*RUN, "--out", str(out), "--force"])
    assert result.exit_code == 0, result.output
    with xr.open_dataset(out, engine="h5netcdf") as ds:
        assert ds.attrs["scenario"] == "toy-closure"


@pytest.mark.parametrize(
    "args,option",
    [
        (["--out", "x.csv"], "--out"),
        (["--out", "x"], "--out"),
    ],
)
def test_out_extension(runner, tmp_path: Path, args: list[str], option: str) -> None:
    args = [args[0], str(tmp_path / args[1])]
    line = one_error_line(runner.invoke(app, [*RUN, *args]))
    assert option in line and ".nc" in line
    assert list(tmp_path.iterdir()) == []


def test_calibrate_and_plot_check_their_targets(runner, tmp_path: Path) -> None:
    out = tmp_path / "p.toml"
    out.write_text("kept")
    line = one_error_line(runner.invoke(app, ["calibrate", "--out", str(out)]))
    assert "--out" in line and "exists" in line
    line = one_error_line(
        runner.invoke(app, ["sensitivity", "--members", "0", "--plot", str(tmp_path / "t.txt")])
    )
    assert "--plot" in line and ".png" in line
    assert out.read_text() == "kept"


def test_unwritable_place_names_the_target(tmp_path: Path, monkeypatch) -> None:
    import tempfile

    def denied(*a, **k):
        raise PermissionError(13, "Permission denied", str(tmp_path / ".x.nc.1.abc.tmp"))

    monkeypatch.setattr(tempfile, "mkstemp", denied)
    with pytest.raises(OutputError) as info:
        write_atomic(tmp_path / "x.nc", lambda p: p.write_bytes(b"x"))
    msg = str(info.value)
    assert msg.startswith(str(tmp_path / "x.nc")) and "Permission denied" in msg
    assert ".tmp" not in msg


def test_no_overwrite_even_when_the_file_appears_meanwhile(tmp_path: Path) -> None:
    """Without --force the check before the run is not enough: another process may write
    the file while this one computes. The file is linked into place, never replaced."""
    out = tmp_path / "x.nc"
    check_output(out, suffixes=(".nc",))  # new at check time

    def writer(p: Path) -> None:
        out.write_bytes(b"another process's result")  # appears while we write
        p.write_bytes(b"ours")

    with pytest.raises(OutputError, match="exists"):
        write_atomic(out, writer, overwrite=False)
    assert out.read_bytes() == b"another process's result"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.nc"]
    write_atomic(tmp_path / "y.nc", lambda p: p.write_bytes(b"new"), overwrite=False)
    assert (tmp_path / "y.nc").read_bytes() == b"new"


def test_parent_that_is_a_file(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(OutputError, match="is not a directory"):
        check_output(tmp_path / "file" / "x.nc", suffixes=(".nc",))


# --------------------------------------------------------------------------- temporary files


def test_stale_temporary_files_of_dead_processes_are_removed(tmp_path: Path) -> None:
    dead = tmp_path / f".x.nc.{_dead_pid()}.k3j2h1.tmp"
    alive = tmp_path / f".x.nc.{os.getpid()}.a1b2c3.tmp"  # a writer still running
    other = tmp_path / ".y.nc.1.zzzzzz.tmp"  # another target's
    for p in (dead, alive, other):
        p.write_bytes(b"partial")
    write_atomic(tmp_path / "x.nc", lambda p: p.write_bytes(b"result"))
    assert (tmp_path / "x.nc").read_bytes() == b"result"
    assert not dead.exists() and alive.exists() and other.exists()
    assert clean_stale_temps(tmp_path / "x.nc") == []


KILL_SCRIPT = textwrap.dedent(
    """
    import os, signal, sys, time
    import xarray as xr
    from cli.app import main

    def interrupted_write(self, path=None, *args, **kwargs):
        with open(path, "wb") as fh:
            fh.write(b"partial")
        os.kill(os.getpid(), signal.{sig})
        time.sleep(30)  # the handler raises here

    xr.Dataset.to_netcdf = interrupted_write
    sys.argv = ["chokepoint", *sys.argv[1:]]
    main()
    """
)


@pytest.mark.parametrize("sig,code", [("SIGTERM", 143), ("SIGINT", 130)])
def test_interrupt_during_write_removes_the_temporary_file(
    tmp_path: Path, sig: str, code: int
) -> None:
    out = tmp_path / "x.nc"
    proc = subprocess.run(
        [sys.executable, "-c", KILL_SCRIPT.format(sig=sig), *RUN[:4], "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == code, proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith(f"error: interrupted by {sig}; removed temporary file")
    assert "nothing written" in lines[0]
    assert list(tmp_path.iterdir()) == []  # neither x.nc nor .x.nc.*.tmp


# --------------------------------------------------------------------------- reproducibility


def test_same_seed_byte_identical_netcdf(runner, tmp_path: Path, monkeypatch) -> None:
    ens = ["--members", "3", "--seed", str(2**64 - 1)]
    paths = []
    for i in range(2):
        p = tmp_path / f"r{i}.nc"
        result = runner.invoke(app, [*RUN, *ens, "--out", str(p), "--no-stamp"])
        assert result.exit_code == 0, result.output
        paths.append(p)
    assert paths[0].read_bytes() == paths[1].read_bytes()
    with xr.open_dataset(paths[0], engine="h5netcdf") as ds:
        assert "date_created" not in ds.attrs and ds.attrs["seed"] == str(2**64 - 1)
    # with the stamp: SOURCE_DATE_EPOCH pins it, so the files are identical too
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    stamped = []
    for i in range(2):
        p = tmp_path / f"s{i}.nc"
        assert runner.invoke(app, [*RUN, *ens, "--out", str(p)]).exit_code == 0
        stamped.append(p)
    assert stamped[0].read_bytes() == stamped[1].read_bytes()
    assert stamped[0].read_bytes() != paths[0].read_bytes()
    with xr.open_dataset(stamped[0], engine="h5netcdf") as ds:
        assert ds.attrs["date_created"] == "2023-11-14T22:13:20Z"


# --------------------------------------------------------------------------- usage and guard


@pytest.mark.parametrize(
    "args",
    [
        ["run", "--months", "0"],
        ["run", "--members", "abc"],
        ["run", "--bogus"],
        ["frobnicate"],
        ["compare"],
        ["run", "--seed", str(2**64)],
        ["run", "--format", "xml"],
    ],
)
def test_usage_error_is_one_line_exit_2(runner, args: list[str]) -> None:
    line = one_error_line(runner.invoke(app, args), code=2)
    assert "--help" in line


def test_cli_memory_guard_counts_the_writer(runner, tmp_path: Path, monkeypatch) -> None:
    # members written to the file chunk by chunk: the writer holds a chunk, not the result
    monkeypatch.setattr(memory, "available_memory", lambda: 1_000_000)
    out = tmp_path / "big.nc"
    line = one_error_line(runner.invoke(app, [*RUN, "--members", "1000", "--out", str(out)]))
    assert (
        "--members 1,000 with --out, chunk by chunk" in line and "writer's copy of a chunk" in line
    )
    assert "1.0 MB is available" in line
    assert not out.exists()
