"""The appliance never starts half-configured: a configuration file it
refuses makes it exit with code 1, naming FILE:LINE:COLUMN and the reason,
before any port is started, so nothing is ever transmitted (hardening,
issue 8). Each run has packets waiting on eth0 that a started appliance
would forward; the tx captures must stay empty.

The loader's rules themselves are unit-tested (tests/unit/config_test.cpp);
this checks the process around them: every refusal path, a 100 MB file
refused quickly without being read, binary garbage, a file that ends badly
after many good lines, and a configuration that is valid YAML but names a
device the EAL does not have (refused after the EAL is up, still before any
port starts).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import pytest

import corpus
import ioam_scapy as ioam
import pcaptest as pt

GOOD = corpus.config("enabled")
TIMEOUT_S = 30


def replace_once(text: str, old: str, new: str) -> str:
    assert text.count(old) == 1, old
    return text.replace(old, new)


def position(text: str, needle: str) -> tuple:
    """1-based (line, column) of the first ``needle`` in ``text``."""
    i = text.index(needle)
    line = text.count("\n", 0, i) + 1
    return line, i - (text.rfind("\n", 0, i) + 1) + 1


@dataclass
class Bad:
    name: str
    text: Optional[bytes]          # None: the case writes its own file
    at: Optional[str]              # text whose position the message must name
    reason: str                    # part of the reason
    line_col: Optional[tuple] = None  # when ``at`` cannot say it


def bad_cases():
    cases = [
        Bad("wrong_type_sequence", replace_once(GOOD, "id_wide: 22222222", "id_wide: [1, 2]"),
            "[1, 2]", "node.id_wide: expected an unsigned integer, got a sequence"),
        Bad("wrong_type_bool", replace_once(GOOD, "enabled: true", "enabled: 1"),
            "1, id: 201", "expected true or false, got '1'"),
        Bad("huge_number", replace_once(GOOD, "id: 2,", "id: 99999999999999999999999,"),
            "99999999999999999999999", "is out of range 0..0xFFFFFF"),
        Bad("negative", replace_once(GOOD, "id: 2,", "id: -1,"), "-1", "is negative"),
        Bad("mtu_out_of_range", replace_once(GOOD, "    addresses: [db02::1/64]\n",
                                             "    addresses: [db02::1/64]\n    mtu: 80\n"),
            "80", "ports[1].mtu: 80 is out of range 1280..9000"),
        Bad("duplicate_key", replace_once(GOOD, "    mac: 02:00:00:00:02:01\n",
                                          "    mac: 02:00:00:00:02:01\n"
                                          "    mac: 02:00:00:00:02:09\n"),
            "mac: 02:00:00:00:02:09", "duplicate key 'mac'"),
        Bad("unknown_key", GOOD + "neighbours: []\n", "neighbours", "unknown key 'neighbours'"),
        Bad("last_line_bad", GOOD.rstrip("\n") + "\n  - {address: \"db02::9\", "
            "mac: \"02:00:00:00:03:09\", port: eth9}\n", "eth9", "no port named 'eth9'"),
        Bad("empty_file", "", None, "empty configuration", (0, 0)),
        Bad("binary_garbage", None, None, "", None),
        Bad("file_100_mb", None, None, "larger than 16 MiB", (0, 0)),
    ]
    for c in cases:
        if isinstance(c.text, str):
            if c.at is not None:
                c.line_col = position(c.text, c.at)
            c.text = c.text.encode()
    return cases


BAD = bad_cases()


def _inputs(workdir: Path) -> list:
    """EAL arguments with packets waiting on eth0 (they would be forwarded)."""
    frames = [pt.inline_frame(ioam.linux_hbh(), tag=i) for i in range(1, 9)]
    args = []
    for i in range(2):
        rx, tx = workdir / f"IN{i}.pcap", workdir / f"OUT{i}.pcap"
        pt.write_pcap(rx, frames if i == 0 else [])
        args += ["--vdev", f"net_pcap{i},rx_pcap={rx},tx_pcap={tx}"]
    return args


def run(workdir: Path, conf: Path, extra_vdev_args: Optional[list] = None):
    workdir.mkdir(parents=True, exist_ok=True)
    prefix = f"cfgref_{os.getpid()}_{workdir.name}"
    cmd = [str(pt.binary()), "-l", "0-1", "--no-huge", "-m", "512",
           *pt.eal_memory_args(prefix), "--no-pci", "--log-level=lib.eal:error",
           *(extra_vdev_args if extra_vdev_args is not None else _inputs(workdir)),
           "--", "--config", str(conf), "--idle-exit", "300",
           "--stats-json", str(workdir / "STATS.json")]
    started = time.monotonic()
    proc = subprocess.run(cmd, cwd=workdir, capture_output=True, text=True, timeout=TIMEOUT_S,
                          check=False)
    elapsed = time.monotonic() - started
    shutil.rmtree(Path("/var/run/dpdk") / prefix, ignore_errors=True)
    return proc, elapsed


def assert_nothing_started(workdir: Path, proc, label: str) -> None:
    log = proc.stdout + proc.stderr
    assert proc.returncode == 1, f"{label}: exit code {proc.returncode}, expected 1\n{log}"
    for i in range(2):
        assert pt.read_pcap(workdir / f"OUT{i}.pcap") == [], f"{label}: eth{i} transmitted"
    assert not (workdir / "STATS.json").exists(), f"{label}: a run summary was written"
    for started in ("port eth0 =", "port eth1 =", "forwarding with"):
        assert started not in log, f"{label}: '{started}' logged: a port was started\n{log}"


@pytest.mark.parametrize("case", BAD, ids=lambda c: c.name)
def test_refused_before_any_port_starts(case, tmp_path):
    conf = tmp_path / "CONF.yaml"
    if case.name == "binary_garbage":
        conf.write_bytes(bytes(range(256)) * 64 + b"\x7fELF\x00\x00ports: []\n")
    elif case.name == "file_100_mb":
        # Real octets, not a sparse file: valid YAML apart from its size.
        with open(conf, "wb") as f:
            f.write(GOOD.encode() + b"#")
            chunk = b"x" * (1 << 20)
            for _ in range(100):
                f.write(chunk)
        assert conf.stat().st_size > 100_000_000
    else:
        conf.write_bytes(case.text)
    proc, elapsed = run(tmp_path, conf)
    assert_nothing_started(tmp_path, proc, case.name)
    msg = proc.stderr
    if case.line_col is not None:
        line, col = case.line_col
        want = f"{conf}:{line}:{col}: "
        assert want in msg, f"{case.name}: '{want}' not in the message\n{msg}"
    else:
        assert re.search(re.escape(str(conf)) + r":\d+:\d+: ", msg), msg
    assert case.reason in msg, f"{case.name}: '{case.reason}' not in the message\n{msg}"
    if case.name == "file_100_mb":
        assert elapsed < 5, f"100 MB file refused after {elapsed:.1f} s"


def test_missing_file_and_directory(tmp_path):
    for label, conf, reason in (("missing", tmp_path / "nope.yaml", "No such file"),
                                ("directory", tmp_path, "Is a directory")):
        wd = tmp_path / f"run_{label}"
        proc, _ = run(wd, conf)
        assert_nothing_started(wd, proc, label)
        assert f"{conf}:0:0: " in proc.stderr and reason in proc.stderr, proc.stderr


def test_unknown_device_refused_after_eal_before_ports(tmp_path):
    """Valid YAML whose eth1 names a device the EAL does not have: the EAL
    is up (net_pcap opened its files) but no port was started, nothing sent."""
    text = replace_once(GOOD, "device: net_pcap1", "device: net_pcap7")
    conf = tmp_path / "CONF.yaml"
    conf.write_text(text)
    proc, _ = run(tmp_path, conf)
    assert_nothing_started(tmp_path, proc, "unknown device")
    line, col = position(text, "- name: eth1")
    # The message points at the port's entry (its first key).
    assert f"{conf}:{line}:{col + 2}: " in proc.stderr, proc.stderr
    assert "net_pcap7" in proc.stderr and "is not an EAL port" in proc.stderr, proc.stderr


def test_good_configuration_does_start(tmp_path):
    """The control: the same inputs with the good file are forwarded."""
    conf = tmp_path / "CONF.yaml"
    conf.write_text(GOOD)
    proc, _ = run(tmp_path, conf)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert len(pt.read_pcap(tmp_path / "OUT1.pcap")) == 8
