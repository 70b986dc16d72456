"""pytest glue for the pcap tests (run with Debian's /usr/bin/python3:
``/usr/bin/python3 -m pytest tests/pcap -q``).

The binary is $IOAMFWD_BIN, default <repo>/build/ioamfwd. Every appliance
run gets its own directory under pytest's tmp dir; it keeps CONF.yaml, the
IN*/OUT* pcaps, STATS.json, stdout/stderr and the command line for post-mortems.
"""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import pcaptest  # noqa: E402  (needs the path above)


@pytest.fixture
def appliance(tmp_path):
    """Run the appliance once in this test's own directory:
    ``appliance(config_text, {port: [frames]})`` -> pcaptest.RunResult."""
    counter = iter(range(1000))

    def _run(config_text, inputs, nports=2):
        return pcaptest.run_appliance(tmp_path / f"run{next(counter)}", config_text,
                                      inputs, nports)
    return _run


@pytest.fixture(scope="module")
def batch_dir(request, tmp_path_factory):
    """A fresh directory for a module's batched runs: call it with a name."""
    base = tmp_path_factory.mktemp(request.module.__name__.rsplit(".", 1)[-1])

    def _dir(name):
        return base / name
    return _dir
