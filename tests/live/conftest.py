"""pytest glue for the live tests (root; run with Debian's python:
``/usr/bin/python3 -m pytest tests/live -q -rs``).

Every test skips with the reason when the machine cannot run them (not root,
no network namespaces, veth or AF_PACKET, no binary).  Each test builds its
own namespaces (``lab`` fixture) or shares one per module (``module_lab``);
their names carry the pid and a counter, and they are deleted whatever
happens.  Logs, configurations and stats of every ioamfwd run stay in the
test's pytest tmp directory.
"""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import livenet  # noqa: E402  (needs the path above)


def _skip_if_unavailable():
    why = livenet.probe()
    if why:
        pytest.skip(f"live tests skipped: {why}")


@pytest.fixture
def lab(tmp_path):
    _skip_if_unavailable()
    with livenet.Lab(tmp_path) as lab:
        yield lab


@pytest.fixture(scope="module")
def module_lab(tmp_path_factory, request):
    _skip_if_unavailable()
    base = tmp_path_factory.mktemp(request.module.__name__.rsplit(".", 1)[-1])
    with livenet.Lab(base) as lab:
        yield lab
