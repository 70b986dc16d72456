"""Transit half (INPUT) of the Linux IOAM selftest matrix (reference 11.3),
replayed through the appliance in inline and encap mode, plus the bits a
transit node must accept although an encap node refuses them (12..21, 23).

Each case is checked twice, independently:
  * byte for byte on the whole output frame against the reference model
    (ioam_scapy.linux_transit), timestamps / queue depth for plausibility;
  * field by field against the selftest table (linux_selftest), the way
    ioam6_parser does on Gamma, but strict on every byte.

All cases of one configuration travel in one appliance run (tagged by flow
label) and are asserted one by one.
"""

from collections import Counter

import pytest

import ioam_scapy as ioam
import linux_selftest as ls
import pcaptest as pt

# Beta (reference 6.1) at the Porthos position: node 2 / 22222222, eth0 =
# veth0 (201 / 201201, IOAM enabled), eth1 = veth1 (202 / 202202); namespace
# 123 exists without data and without a schema.
BETA_CONFIG = """\
node: {id: 2, id_wide: 22222222}
ports:
  - name: eth0
    device: net_pcap0
    mac: 02:00:00:00:02:00
    addresses: [db04::2/64]
    ioam: {enabled: %(enabled)s, id: 201, id_wide: 201201}
  - name: eth1
    device: net_pcap1
    mac: 02:00:00:00:02:01
    addresses: [db02::1/64]
    ioam: {id: 202, id_wide: 202202}
namespaces:
  - {id: 123}
routes:
  - {prefix: "db03::/64", port: eth1, via: "db02::2"}
neighbors:
  - {address: "db02::2", mac: "02:00:00:00:03:00", port: eth1}
"""

# Porthos (seed 002): as Beta, plus namespace data and schema 666.
PORTHOS_CONFIG = """\
node: {id: 2, id_wide: 22222222}
ports:
  - name: eth0
    device: net_pcap0
    mac: 02:00:00:00:02:00
    addresses: [db04::2/64]
    ioam: {enabled: true, id: 201, id_wide: 201201}
  - name: eth1
    device: net_pcap1
    mac: 02:00:00:00:02:01
    addresses: [db02::1/64]
    ioam: {id: 202, id_wide: 202202}
namespaces:
  - {id: 123, data: 0xdeadbee1, wide: 0xcafec0caf11dc0de, schema: 666}
schemas:
  - {id: 666, data: "Hello there -Obi"}
routes:
  - {prefix: "db03::/64", port: eth1, via: "db02::2"}
neighbors:
  - {address: "db02::2", mac: "02:00:00:00:03:00", port: eth1}
"""

CONFIGS = {
    "beta": BETA_CONFIG % {"enabled": "true"},
    "beta_disabled": BETA_CONFIG % {"enabled": "false"},
    "porthos": PORTHOS_CONFIG,
}

MODES = ("inline", "encap")


def _group(t: ls.InputTest) -> str:
    if t.disabled:
        return "beta_disabled"
    return "porthos" if t.name.startswith("porthos_") else "beta"


TESTS = ls.input_matrix() + ls.extra_bits_matrix() + ls.porthos_matrix()
GROUPS = {g: [t for t in TESTS if _group(t) == g] for g in CONFIGS}


def _frame(t: ls.InputTest, mode: str, tag: int) -> bytes:
    hbh = ls.input_hbh(t, mode)
    if mode == "inline":
        return pt.inline_frame(hbh, tag=tag, hlim=ls.HLIM_SENT)
    return pt.encap_frame(hbh, tag=tag, hlim=ls.HLIM_SENT)


def _cases(group: str):
    cases = []
    for t in GROUPS[group]:
        for mode in MODES:
            tag = len(cases) + 1
            frame = _frame(t, mode, tag)
            cases.append(pt.Case(f"{t.name}-{mode}", frame, tag,
                                 pt.expect(frame, pt.profile_for(CONFIGS[group], frame))))
    return cases


_batches = pt.LazyBatches(lambda group, wd: pt.run_batch(wd, CONFIGS[group], _cases(group)))


@pytest.fixture(scope="module")
def batch(batch_dir):
    """Lazily run one appliance per configuration group."""
    yield lambda group: _batches.get(group, batch_dir(group))
    _batches.clear()


PARAMS = [pytest.param(t, mode, id=f"{t.name}-{mode}") for t in TESTS for mode in MODES]


@pytest.mark.parametrize("t,mode", PARAMS)
def test_input(t, mode, batch):
    b = batch(_group(t))
    case = b.cases[f"{t.name}-{mode}"]
    outs = b.output_of(case.name)
    assert len(outs) == 1, (f"{case.name}: expected one forwarded frame on eth1, got "
                            f"{len(outs)}\n{b.run.describe()}")
    actual = outs[0]
    problems = ls.verify_output(t, actual[14:], mode)
    exp, seen = ioam.apply_variables(case.model.frame, actual, case.model.variables)
    if actual != exp:
        problems.append("differs from the Linux model:\n" + ioam.hexdiff(exp, actual))
    assert not problems, (f"{case.name} (reference 11.3)\n" + "\n".join(problems) +
                          f"\ninput    {case.frame.hex()}\nexpected {exp.hex()}"
                          f"\nactual   {actual.hex()}")
    pt.check_variables(seen, b.run)


@pytest.mark.parametrize("group", list(CONFIGS))
def test_counters(group, batch):
    """Every packet forwarded, nothing dropped, one IOAM outcome each."""
    b = batch(group)
    n = len(b.cases)
    want_events = Counter()
    for t in GROUPS[group]:
        want_events[t.event] += len(MODES)
    model_drops, model_events = pt.expected_counters(b.cases.values())
    assert model_drops == {} and model_events == dict(want_events)
    assert b.run.drops == {}, b.run.describe()
    assert b.run.ioam == dict(want_events), b.run.describe()
    assert b.run.port("eth0")["rx"] == n and b.run.port("eth1")["tx"] == n
    assert len(b.run.out[1]) == n and b.run.out[0] == []


@pytest.mark.parametrize("group", list(CONFIGS))
def test_order_preserved(group, batch):
    """One queue in, one queue out: frames leave in arrival order."""
    b = batch(group)
    assert [pt.frame_tag(f) for f in b.run.out[1]] == [c.tag for c in b.cases.values()]
