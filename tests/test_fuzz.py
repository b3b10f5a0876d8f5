"""Fuzzing the boundaries (issue #18): scenario files, input directories, parameters files and
the Python API, with generated good, bad and odd cases (wrong types, NaN/inf, huge, negative,
unicode, empty, BOM, CRLF, latin-1, duplicates, dangling references, dates out of range).

The contract for every case: either the model runs to finite results, non-negative where
they are amounts, whose revenue decomposition adds up to the revenue gap; or it refuses with
one :class:`econ.InputError` line. Nothing else (no traceback, no NaN, no silent coercion).

The default profile is bounded for CI (``FUZZ_EXAMPLES`` cases per fuzzer, about 10 s each);
set ``CHOKEPOINT_FUZZ_EXAMPLES=2000`` (or any number) for a longer run on demand.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import tempfile
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import econ
from econ.io.inputs import TOML_FILES
from econ.io.parameters import apply_parameters_file
from econ.model.record import FREQS
from econ.spec.parameters import REQUIRED
from econ.spec.scenario import NUMBER_BOUNDS, NUMBER_FIELDS

TOY = Path(__file__).parent / "data" / "toy"
#: the toy's tables (a flat directory of one base year)
TOY_TABLES = sorted(p.name for p in TOY.glob("*.csv"))
FUZZ_EXAMPLES = int(os.environ.get("CHOKEPOINT_FUZZ_EXAMPLES", "40"))
FUZZ = settings(
    max_examples=FUZZ_EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    print_blob=True,
)

#: amounts that can never be negative
NONNEG = (
    "trade_value",
    "baseline_trade_value",
    "customs_revenue",
    "baseline_customs_revenue",
    "customs_revenue_afn",
    "spoiled_value",
    "revenue_lost_spoilage",
    "queue_trucks",
    "queue_trucks_max",
    "wait_days",
    "route_trade_value",
    "baseline_route_trade_value",
    "tariff_paid",
    "guarantee_cost",
    "capital_locked",
    "demurrage_cost",
    "trade_cancelled_value",
)

_TOY_INPUTS: list[econ.Inputs] = []


def toy() -> econ.Inputs:
    if not _TOY_INPUTS:
        _TOY_INPUTS.append(econ.load_inputs(TOY))
    return _TOY_INPUTS[0]


# --------------------------------------------------------------------------- the contract


def check_result(ds) -> None:
    """Finite, non-negative amounts, and the decomposition adds up to the revenue gap."""
    for name in econ.VARIABLES:
        v = ds[name].values
        assert np.isfinite(v).all(), f"{name} not finite"
    scale = max(1.0, float(np.abs(ds["baseline_customs_revenue"].values).max()))
    for name in NONNEG:
        assert float(ds[name].min()) >= -1e-9 * scale, f"{name} negative: {float(ds[name].min())}"
    gap = (ds["baseline_customs_revenue"] - ds["customs_revenue"]).values
    dec = sum(ds[v] for v in econ.DECOMPOSITION).values
    np.testing.assert_allclose(dec, gap, rtol=1e-9, atol=1e-9 * scale)
    assert ds.attrs["nonfinite_members"] == 0


def contract(call: Callable[[], Any], then: Callable[[Any], Any] | None = None) -> str:
    """Run ``call`` (and ``then`` on its value): 'ran' with a checked result, or 'refused'
    with a one-line InputError. Any other exception fails the test."""
    try:
        out = call()
        if then is not None:
            out = then(out)
    except econ.InputError as exc:
        msg = str(exc)
        assert msg.strip(), "empty error message"
        assert "\n" not in msg and "\r" not in msg, msg
        assert "Traceback" not in msg, msg
        return "refused"
    check_result(out)
    return "ran"


def from_file(name: str, data: bytes, load: Callable[[Path], Any], then) -> str:
    """:func:`contract` of loading ``data`` written to a file ``name``, then ``then``."""
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / name
        p.write_bytes(data)
        return contract(lambda: load(p), then)


def fuzz(strategy, body: Callable[[Any], str]) -> Counter:
    """Run ``body`` on ``FUZZ_EXAMPLES`` generated cases; count the outcomes."""
    outcomes: Counter = Counter()

    @FUZZ
    @given(strategy)
    def one(case):
        outcomes[body(case)] += 1

    one()
    print(f"fuzz outcomes: {dict(outcomes)}")  # shown with pytest -s
    return outcomes


def assert_both(outcomes: Counter) -> None:
    """The fuzzer reached the model and the validation (else it tests nothing)."""
    assert outcomes["ran"] > 0 and outcomes["refused"] > 0, dict(outcomes)


# --------------------------------------------------------------------------- TOML literals

BAD_NUMBERS = [
    "nan",
    "inf",
    "-inf",
    "-1",
    "-0.5",
    "1e308",
    "1e400",
    "true",
    "false",
    '"0.5"',
    '"12"',
    '""',
    '"ü"',
    "[]",
    "[1]",
    "[0.5, 0.1]",
    "[1, 2, 3]",
    "[0.1, nan]",
    "{ a = 1 }",
    "2023-01-01",
    "99999999999999999999999",
]
BAD_DATES = [
    '"0001-01-01"',
    '"9999-12-31"',
    '"2023-02-30"',
    '"2023-1-5"',
    '"yesterday"',
    "20230101",
    "true",
    "2023-01-05T10:00:00",
    '""',
    '["2023-03-01", "2023-02-01"]',
    "[]",
]
IDS = {
    "crossings": ["east", "west", "north", "", "EAST", "ü"],
    "corridors": ["pakistan", "iran", "china", "air"],
    "routes": ["port-east", "land-east", "port-west", "nowhere"],
    "commodities": ["goods", "fruit", "gold"],
    "kinds": ["bilateral", "transit", "smuggling"],
}
UNICODE_TEXT = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=12
)


def toml_str(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


START = dt.date(2023, 1, 1)


@st.composite
def measure(draw) -> list[str]:
    """A valid measure's lines (selectors may still match no flow)."""
    mtype = draw(st.sampled_from(list(econ.spec.MEASURE_NUMBERS)))
    s = draw(st.integers(0, 25))
    lines = [f'type = "{mtype}"', f'start = "{(START + dt.timedelta(days=s)).isoformat()}"']
    if draw(st.booleans()):
        e = draw(st.integers(1, 60))
        lines.append(f'end = "{(START + dt.timedelta(days=s + e)).isoformat()}"')
    if draw(st.integers(0, 3)) == 0:
        a = draw(st.integers(1, 30))
        lines.append(f'announced = "{(START + dt.timedelta(days=s - a)).isoformat()}"')
    for field in econ.spec.MEASURE_NUMBERS[mtype]:
        if field == "lockup_days" or draw(st.booleans()):
            lo, hi, _ = NUMBER_BOUNDS[mtype][field]
            valid = st.floats(lo, hi).map(repr)
            rng = st.tuples(st.floats(lo, hi), st.floats(lo, hi)).map(
                lambda t: f"[{min(t)!r}, {max(t)!r}]"
            )
            lines.append(f"{field} = " + draw(st.one_of(valid, rng)))
    for sel, ids in IDS.items():
        if draw(st.integers(0, 3)) == 0 and not (mtype == "closure" and sel == "commodities"):
            chosen = draw(st.lists(st.sampled_from(ids[:2]), min_size=1, max_size=2))
            lines.append(f"{sel} = [" + ", ".join(toml_str(i) for i in chosen) + "]")
    if draw(st.booleans()):
        lines.append("label = " + toml_str(draw(UNICODE_TEXT)))
    return ["[[measure]]", *lines]


NUMBER_KEYS = {"months", "seed", *NUMBER_FIELDS}
DATE_KEYS = {"start", "end", "announced"}


@st.composite
def mutation(draw) -> Callable[[list[str]], list[str]]:
    """One fault: a bad value, an unknown or internal field, a dangling or empty selector, a
    missing field, a duplicated key, a measure outside the horizon."""
    kind = draw(
        st.sampled_from(["value", "value", "value", "extra", "dangling", "drop", "dupkey", "far"])
    )
    i = draw(st.integers(0, 100))
    bad_number = draw(st.sampled_from(BAD_NUMBERS))
    bad_date = draw(st.sampled_from(BAD_DATES))
    bad_other = draw(st.sampled_from(["5", "true", "[]", '""', "nan", "{ x = 1 }"]))
    extra = draw(st.sampled_from(["rates = 0.1", 'path = "x"', 'text = "t"', "horizon = 3"]))
    dangling = draw(st.sampled_from(["crossings", "routes", "commodities", "corridors", "kinds"]))
    far = draw(st.sampled_from(["1999-01-01", "2030-01-01", "2101-01-01"]))

    def apply(lines: list[str]) -> list[str]:
        keyed = [j for j, ln in enumerate(lines) if " = " in ln]
        j = keyed[i % len(keyed)]
        key = lines[j].split(" = ")[0]
        out = list(lines)
        if kind == "value":
            bad = bad_number if key in NUMBER_KEYS else bad_date if key in DATE_KEYS else bad_other
            out[j] = f"{key} = {bad}"
        elif kind == "extra":
            out.insert(j + 1, extra)
        elif kind == "dangling":
            out.insert(
                j + 1, f'{dangling} = ["{IDS[dangling][-1]}"]' if i % 3 else f"{dangling} = []"
            )
        elif kind == "drop":
            del out[j]
        elif kind == "dupkey":
            out.insert(j + 1, lines[j])
        elif kind == "far":
            out = [
                f'start = "{far}"' if ln.startswith("start = ") and k > 2 else ln
                for k, ln in enumerate(out)
            ]
        return out

    return apply


@st.composite
def scenario_text(draw) -> str:
    """A valid scenario, and in about half the cases one or two faults."""
    lines = ['name = "fuzz"', 'start = "2023-01-01"', f"months = {draw(st.integers(1, 4))}"]
    if draw(st.integers(0, 3)) == 0:
        lines.append(f"seed = {draw(st.integers(0, 2**64 - 1))}")
    if draw(st.booleans()):
        lines.append("description = " + toml_str(draw(UNICODE_TEXT)))
    ms = draw(st.lists(measure(), max_size=3))
    if ms and draw(st.integers(0, 5)) == 0:
        ms = ms + ms  # duplicate measures are allowed
    for m in ms:
        lines += m
    for fault in draw(st.lists(mutation(), max_size=2)) if draw(st.booleans()) else []:
        lines = fault(lines)
    return "\n".join(lines) + "\n"


ENCODINGS = ["utf-8", "utf-8", "bom", "crlf", "latin-1"]


def encode(text: str, how: str) -> bytes:
    if how == "bom":
        return b"\xef\xbb\xbf" + text.encode("utf-8")
    if how == "crlf":
        return text.replace("\n", "\r\n").encode("utf-8")
    if how == "latin-1":
        return text.encode("latin-1", errors="replace")
    return text.encode("utf-8")


# --------------------------------------------------------------------------- scenario files


def test_fuzz_scenario_files() -> None:
    def body(case) -> str:
        text, how, members = case
        return from_file(
            "fuzz.toml",
            encode(text, how),
            econ.load_scenario,
            lambda sc: econ.run(sc, inputs=toy(), members=members, rng=1),
        )

    assert_both(
        fuzz(
            st.tuples(scenario_text(), st.sampled_from(ENCODINGS), st.sampled_from([1, 1, 2])), body
        )
    )


# --------------------------------------------------------------------------- input directories

CELLS = [
    "0",
    "1",
    "0.5",
    "24",
    "100",
    "1e6",
    "",
    " ",
    "nan",
    "NaN",
    "inf",
    "-inf",
    "-1",
    "1e308",
    "true",
    "abc",
    "ü",
    "1,000",
    "0x10",
    "east",
    "west",
    "north",
    "*",
    "EAST",
    "2022-01-01",
    "2022-13-01",
    '"quoted, comma"',
]
TOML_VALUES = ["1.0", "0", "-1", "1e308", "nan", "inf", "true", '"86.72"', '""', "[1, 2]", "{}"]


@st.composite
def harmless(draw) -> Callable[[Path], None]:
    """An edit that changes nothing the model reads: a BOM, CRLF line ends, the rows of a
    table in another order, spaces after the commas."""
    kind = draw(st.sampled_from(["bom", "crlf", "shuffle", "spaces"]))
    file = draw(st.sampled_from(TOY_TABLES))
    seed = draw(st.integers(0, 2**32 - 1))

    def apply(d: Path) -> None:
        p = d / file
        raw = p.read_bytes()
        if kind == "bom":
            p.write_bytes(b"\xef\xbb\xbf" + raw)
        elif kind == "crlf":
            p.write_bytes(raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n"))
        elif kind == "shuffle":
            head, *rows = raw.decode("utf-8").splitlines()
            head, rows = head + "\n", [r + "\n" for r in rows]
            order = np.random.default_rng(seed).permutation(len(rows))
            p.write_text(head + "".join(rows[i] for i in order), encoding="utf-8")
        elif kind == "spaces" and b'"' not in raw:
            p.write_bytes(raw.replace(b",", b", "))

    return apply


@st.composite
def corruption(draw) -> Callable[[Path], None]:
    kind = draw(
        st.sampled_from(
            [
                "cell",
                "cell",
                "cell",
                "drop_row",
                "dup_row",
                "header_only",
                "truncate",
                "bom",
                "crlf",
                "latin1",
                "directory",
                "delete",
                "toml",
                "toml",
            ]
        )
    )
    file = draw(st.sampled_from(TOY_TABLES))
    r, c = draw(st.integers(0, 20)), draw(st.integers(0, 20))
    value = draw(st.sampled_from(CELLS))
    frac = draw(st.floats(0.05, 0.99))
    tfile = draw(st.sampled_from(TOML_FILES))
    tvalue = draw(st.sampled_from(TOML_VALUES))
    tline = draw(st.integers(0, 200))

    def apply(d: Path) -> None:
        p = d / file
        if not p.is_file():
            return
        raw = p.read_bytes()
        lines = raw.decode("utf-8", "replace").splitlines(keepends=True)
        if kind == "cell" and len(lines) > 1:
            i = 1 + r % (len(lines) - 1)
            cells = lines[i].rstrip("\r\n").split(",")
            cells[c % len(cells)] = value
            lines[i] = ",".join(cells) + "\n"
            p.write_text("".join(lines), encoding="utf-8")
        elif kind == "drop_row" and len(lines) > 1:
            del lines[1 + r % (len(lines) - 1)]
            p.write_text("".join(lines), encoding="utf-8")
        elif kind == "dup_row" and len(lines) > 1:
            lines.append(lines[1 + r % (len(lines) - 1)])
            p.write_text("".join(lines), encoding="utf-8")
        elif kind == "header_only":
            p.write_text(lines[0] if lines else "", encoding="utf-8")
        elif kind == "truncate":
            p.write_bytes(raw[: int(len(raw) * frac)])
        elif kind == "bom":
            p.write_bytes(b"\xef\xbb\xbf" + raw)
        elif kind == "crlf":
            p.write_bytes(raw.replace(b"\n", b"\r\n"))
        elif kind == "latin1":
            p.write_bytes(raw.replace(b",", "\u00e9,".encode("latin-1"), 1))
        elif kind == "directory":
            p.unlink()
            p.mkdir()
        elif kind == "delete":
            p.unlink()
        elif kind == "toml":
            t = d / tfile
            tl = t.read_text(encoding="utf-8").splitlines(keepends=True)
            numeric = [i for i, ln in enumerate(tl) if "=" in ln and not ln.startswith("[")]
            i = numeric[tline % len(numeric)]
            tl[i] = tl[i].split("=")[0] + "= " + tvalue + "\n"
            t.write_text("".join(tl), encoding="utf-8")

    return apply


def test_fuzz_input_directories() -> None:
    sc = econ.load_scenario(TOY / "scen" / "closure.toml").with_months(2)

    def body(case) -> str:
        harmless, faults = case
        with tempfile.TemporaryDirectory() as d:
            d = Path(d) / "inputs"
            shutil.copytree(TOY, d, ignore=shutil.ignore_patterns("scen"))
            for edit in harmless + faults:
                edit(d)
            return contract(lambda: econ.load_inputs(d), lambda inp: econ.run(sc, inputs=inp))

    # a third of the cases have only harmless edits, so that the model runs often enough
    faults = st.sampled_from([0, 0, 1, 1, 2, 3]).flatmap(
        lambda n: st.lists(corruption(), min_size=n, max_size=n)
    )
    assert_both(fuzz(st.tuples(st.lists(harmless(), max_size=3), faults), body))


# --------------------------------------------------------------------------- parameters files


@st.composite
def parameter_table(draw) -> list[str]:
    """A valid table of a parameters file: a value in range, perhaps a distribution."""
    name = draw(st.sampled_from(sorted(REQUIRED)))
    lo, hi = REQUIRED[name]
    if name in ("adjust_fast_weight", "adjust_medium_weight"):
        hi = 0.5  # their sum may not exceed 1
    v = sorted(draw(st.lists(st.floats(lo, hi), min_size=3, max_size=3)))
    lines = [f"[{name}]", f"value = {v[1]!r}"]
    dist = draw(st.sampled_from(["keep", "fixed", "uniform", "normal", "lognormal", "triangular"]))
    if dist != "keep" and v[0] < v[2] and not (dist == "lognormal" and v[0] <= 0):
        lines += [f'dist = "{dist}"', f"p05 = {v[0]!r}", f"p95 = {v[2]!r}"]
    if name in ("import_demand_elasticity", "route_substitution_elasticity") and draw(
        st.booleans()
    ):
        lines.append(f"by_commodity = {{ goods = {draw(st.floats(lo, hi))!r} }}")
    return lines


PARAM_FAULTS = [
    "value = nan",
    "value = inf",
    "value = true",
    'value = "1.0"',
    "value = 1e308",
    "value = -1e9",
    "p95 = inf",
    'p05 = "0.4"',
    'dist = "beta"',
    "dist = 1",
    "by_commodity = [1, 2]",
    'by_commodity = "goods"',
    "by_commodity = { gold = 1.0 }",
    "by_commodity = { goods = nan }",
    "mean = 1.0",
    'prior = [1.0, "0.5", 2.0]',
    "prior = [1.0, 0.5, inf]",
    "prior = [2.0, 1.0]",
    "source = 5",
    "[nonesuch]\nvalue = 1.0",
]


@st.composite
def parameters_text(draw) -> str:
    """Valid tables, and in about half the cases a faulty line in one of them."""
    lines: list[str] = []
    for table in draw(st.lists(parameter_table(), max_size=3, unique_by=lambda t: t[0])):
        lines += table
    if draw(st.booleans()):
        fault = draw(st.sampled_from(PARAM_FAULTS))
        at = draw(st.integers(0, len(lines)))
        if not lines or fault.startswith("["):
            lines.append(fault)
        else:
            key = fault.split(" = ")[0]
            lines = [ln for ln in lines if not ln.startswith(key + " = ")] if at % 2 else lines
            lines.insert(max(1, at), fault)
    return "\n".join(lines) + "\n"


def test_fuzz_parameters_files() -> None:
    sc = econ.load_scenario(TOY / "scen" / "closure.toml").with_months(2)

    def body(case) -> str:
        text, how, members = case
        return from_file(
            "params.toml",
            encode(text, how),
            lambda p: apply_parameters_file(toy(), p),
            lambda inp: econ.run(sc, inputs=inp, members=members, rng=5),
        )

    assert_both(
        fuzz(
            st.tuples(parameters_text(), st.sampled_from(ENCODINGS), st.sampled_from([1, 3])), body
        )
    )


# --------------------------------------------------------------------------- the API

ODD = [None, True, False, -1, 0, 1.5, "2", "", float("nan"), float("inf"), [1], {}, 2**64]


def _mixed(valid):
    return st.one_of(valid, valid, valid, st.sampled_from(ODD))


@st.composite
def api_call(draw) -> tuple[str, dict[str, Any]]:
    kind = draw(st.sampled_from(["run", "run", "model"]))
    kw: dict[str, Any] = {}
    if draw(st.booleans()):
        kw["members"] = draw(_mixed(st.integers(1, 3)))
    if draw(st.booleans()):
        kw["rng"] = draw(_mixed(st.integers(0, 2**64 - 1)))
    if draw(st.booleans()):
        kw["freq"] = draw(_mixed(st.sampled_from(list(FREQS))))
    if kind == "run":
        if draw(st.booleans()):
            kw["months"] = draw(_mixed(st.integers(1, 3)))
        if draw(st.integers(0, 3)) == 0:
            kw["chunk_size"] = draw(_mixed(st.integers(1, 3)))
        if draw(st.integers(0, 4)) == 0:
            kw["baseline"] = draw(st.sampled_from(["flat", "trend", None, 1]))
        return kind, kw
    if draw(st.booleans()):
        name = draw(st.sampled_from(sorted(REQUIRED) + ["measure1.closure.capacity", "nope"]))
        lo, hi = REQUIRED.get(name, (0.0, 1.0))
        v = draw(st.one_of(st.floats(lo, hi), st.sampled_from(ODD)))
        kw["values"] = {name: v}
    if draw(st.integers(0, 3)) == 0:
        kw["baseline_index"] = draw(
            st.one_of(st.floats(0, 3), st.sampled_from([-1.0, float("nan"), np.ones(3), "1"]))
        )
    if draw(st.integers(0, 3)) == 0:
        kw["member_ids"] = draw(
            st.one_of(
                st.lists(st.integers(0, 50), min_size=1, max_size=3, unique=True),
                st.sampled_from([[0, 0], [-1], [0.5], [], "0"]),
            )
        )
    return kind, kw


def test_fuzz_api() -> None:
    sc = econ.load_scenario(TOY / "scen" / "closure.toml").with_months(2)

    def body(case) -> str:
        kind, kw = case
        if kind == "run":
            return contract(lambda: econ.run(sc, inputs=toy(), **kw))
        return contract(lambda: econ.Model(toy(), sc, **kw).run().result())

    assert_both(fuzz(api_call(), body))


# --------------------------------------------------------------------------- fuzz findings


def test_afghan_duty_cut_stops_at_a_zero_rate() -> None:
    """Found by the scenario fuzzer: an afghan_duty cut beyond the collected rate (one cut of
    -1, or two adding up) made customs revenue negative and landed costs collapse."""
    m = '[[measure]]\ntype = "afghan_duty"\nstart = "2023-01-01"\nrate = {}\n'
    m += 'commodities = ["goods"]\n'
    head = 'name = "cut"\nstart = "2023-01-01"\nmonths = 1\n'
    runs = {
        label: econ.run(econ.parse_scenario(head + body), inputs=toy())
        for label, body in (
            ("to zero", m.format(-0.2)),  # goods' collected rate is 0.2
            ("beyond", m.format(-1.0)),
            ("two adding up", m.format(-0.5) * 2),
        )
    }
    ref = runs["to zero"]
    assert abs(float(ref.customs_revenue.sel(commodity="goods").sum())) < 1e-6  # rounding
    for ds in runs.values():
        check_result(ds)
        np.testing.assert_allclose(ds.customs_revenue.values, ref.customs_revenue.values, atol=1e-6)
        np.testing.assert_allclose(ds.trade_value.values, ref.trade_value.values, rtol=1e-12)
