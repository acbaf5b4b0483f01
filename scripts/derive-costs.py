#!/usr/bin/env python3
"""Derive a proposed cost table from calibration measurements (issue 19).

Input: one or more JSON files written by
    cargo bench -p gasket-benches --bench calibrate -- --json FILE
Each case there has its gas difference split by price key (`gas_by_key`: cost-table
fields such as `alu`, `bulk_memory_per_byte`, and `host:<function>:base|per_byte`) and
the time that gas took (`ns`). Dividing a key's gas by its current price gives how many
units (operations, bytes, pages, calls) the case performed, so the time of any other
price table can be predicted: gas' = sum(units[k] * price'[k]).

Times are made relative per file (divided by that file's median ns per gas), so files from
machines of different speeds can be combined; a case's time is its worst over the files.

The proposal: every price that a case calibrates is set so its cases cost what they take
(the most expensive of its cases, after the other keys' share), then the adversarial
mixes that are still more than --max-ratio times the median raise their dominant key,
as far as that keeps the key's own cases within --max-overcharge. Prices are integers,
so the table may be rescaled (`--scale`, or of SCALES the one that leaves the fewest
cases outside the bound, the smallest on a tie): a chain multiplies its gas limits by the
same factor.

Memory-size tiers (`--tiers 32,64,256`, cost table version 6's rule): a load or store
pays a surcharge S(pages) while the memory has more than a tier's threshold of pages (no
surcharge up to the first threshold). After the prices, each tier's surcharge is set so
that the mixes whose accesses are what they claim (`load`/`store`: the cache-hostile
loads and stores over each memory size) stay within --max-ratio of the median:
S >= (t / (max_ratio * median) - gas) / accesses for each such mix whose memory falls in
the tier (the largest of these, made non-decreasing from tier to tier). A mix in tier 0
above the bound is listed: only a lower first threshold or dearer `load`/`store` could
reach it. The memory size is the case's `memory_pages` (files written before that field:
from the cache-hostile mixes' names).

`--current` derives nothing: the measured bound of the prices in force; with
`--set KEY=PRICE` (repeatable) the bound those prices would have with the given ones
changed, predicted from each case's measured units (how a hand-picked next version, such
as cost table version 7, is checked against runs measured under the current one).

Prints the proposal, the predicted worst case (max ns-per-gas over the median) and
overcharge (median over the min), and the cases that still break the bound. Writes
nothing unless --json OUT is given; never edits code.
"""

import argparse
import json
import statistics
import sys

SCALES = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000]
ROUNDS = 60
# A case whose time difference is at most NOISE times its runs' noise (`noise_ns`, the
# summed median absolute deviations of program and baseline), or below FLOOR of the
# median time per gas (files written before `noise_ns` existed), is unmeasured.
NOISE = 3.0
FLOOR = 1e-3
# Pages of the cache-hostile mixes by name suffix, for files without `memory_pages`.
HOSTILE_PAGES = {"": 1024, "16mib": 256, "4mib": 64, "2mib": 32, "1mib": 16}
# The classes a memory-size surcharge applies to (every width, int and float).
ACCESS_KEYS = ("load", "store")
# The gas-report class of the surcharge (cost table version 6).
SURCHARGE = "memory_access_surcharge"


def memory_pages(case):
    """Initial pages of a case's memory, if known."""
    if case.get("memory_pages") is not None:
        return case["memory_pages"]
    name = case["name"]
    if name.startswith("mix/cache_hostile_"):
        parts = name.split("/")
        return HOSTILE_PAGES.get(parts[2] if len(parts) > 2 else "")
    return None


def below_noise(case):
    """Whether a case's time is within its runs' noise (or not above zero)."""
    if case["ns"] <= 0:
        return True
    noise = case.get("noise_ns")
    return noise is not None and case["ns"] <= NOISE * noise


def load(paths):
    """Returns (prices, cases): prices from the first file (all must agree) and, per case
    name, a dict with key, gas_by_key and t: time in units of the file's median ns/gas
    (worst over the files)."""
    prices = None
    cases = {}
    order = []
    unmeasured = set()
    for path in paths:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
        if data.get("format") != "gasket-calibration/1":
            raise ValueError(f"{path}: not a gasket-calibration/1 file")
        if prices is None:
            prices = data["prices"]
        elif data["prices"] != prices:
            raise ValueError(f"{path}: measured under other prices than {paths[0]}")
        measured = [c for c in data["cases"] if c["gas"] > 0 and not below_noise(c)]
        rates = [c["ns_per_gas"] for c in measured]
        if not rates:
            raise ValueError(f"{path}: no cases")
        median = statistics.median(rates)
        if median <= 0:
            raise ValueError(f"{path}: median ns per gas is {median}")
        for c in data["cases"]:
            t = c["ns"] / median
            if c not in measured or t < FLOOR * c["gas"]:
                # Not distinguishable from no time at all after subtracting the baseline
                # (e.g. constants the compiler folds away): it says nothing about the
                # price, so it is listed, never counted as overcharged.
                unmeasured.add(c["name"])
                continue
            name = c["name"]
            if name not in cases:
                order.append(name)
                cases[name] = {"name": name, "key": c.get("key"), "claims": c.get("claims"),
                               "gas_by_key": c["gas_by_key"], "t": t,
                               "pages": memory_pages(c)}
            else:
                cases[name]["t"] = max(cases[name]["t"], t)
    unmeasured -= set(order)
    return prices, [cases[n] for n in order], sorted(unmeasured)


def units(case, prices):
    """Units of each priced key the case performed (keys priced 0 carry no gas)."""
    return {k: g / prices[k] for k, g in case["gas_by_key"].items()
            if prices.get(k, 0) > 0}


def fixed_gas(case, prices):
    """Gas of keys that are no single price (`memory_access_surcharge`: per access at the
    tier of the memory's size): counted as measured, whatever the table."""
    return sum(g for k, g in case["gas_by_key"].items() if k not in prices)


def predicted_gas(case, old, new):
    return sum(u * new[k] for k, u in units(case, old).items()) + fixed_gas(case, old)


def rates(cases, old, new):
    """Per case: predicted time per gas under `new` (time in old median units)."""
    out = {}
    for c in cases:
        gas = predicted_gas(c, old, new)
        if gas > 0:
            out[c["name"]] = c["t"] / gas
        elif c["t"] > 0:
            out[c["name"]] = float("inf")
        # No gas and no time: nothing to bound.
    return out


def key_rates(cases, r):
    """Per calibrated key: the predicted rate of its dearest case (a key measured over
    several storages or operators is priced for the worst)."""
    out = {}
    for c in cases:
        if c["key"] is not None and c["name"] in r:
            out[c["key"]] = max(out.get(c["key"], 0.0), r[c["name"]])
    return out


def dominant_key(case, old, new):
    """The key a mix is too cheap by: its claimed class (`host`: its dearest host key),
    else the key with most of its gas."""
    u = units(case, old)
    claims = case.get("claims")
    if claims in u:
        return claims
    if claims == "host":
        u = {k: n for k, n in u.items() if k.startswith("host:")}
    return max(u, key=lambda k: u[k] * new[k]) if u else None


def derive(cases, old, scale, max_ratio, max_overcharge, keep=()):
    """Multiplicative fixpoint on real-valued prices: each calibrated key is scaled by
    its dearest case's rate over the median (so every key lands at the median), mixes
    above max_ratio × median raise their dominant key within its overcharge limit, and
    the table is renormalised so the median stays one gas per old median gas × scale.
    Then rounded to integers (0 only for a key whose cases took no time). Keys in `keep`
    stay at their current price × scale."""
    new = {k: float(v * scale) for k, v in old.items()}
    for _ in range(ROUNDS):
        r = rates(cases, old, new)
        median = statistics.median(r.values())
        for key, rate in key_rates(cases, r).items():
            if new[key] > 0:
                # Damped: keys share cases, so move halfway (in log terms) each round.
                new[key] *= (rate / median) ** 0.5 if rate > 0 else 0.0
        r = rates(cases, old, new)
        median = statistics.median(r.values())
        own = key_rates(cases, r)
        for c in cases:
            if c["key"] is not None or c["name"] not in r or r[c["name"]] <= max_ratio * median:
                continue
            key = dominant_key(c, old, new)
            if key is None or new[key] <= 0:
                continue
            factor = r[c["name"]] / (max_ratio * median)
            if key in own:
                factor = min(factor, own[key] * max_overcharge / median)
            new[key] *= max(factor, 1.0)
        r = rates(cases, old, new)
        median = statistics.median(r.values())
        norm = median * scale
        for key in new:
            new[key] *= norm
    out = {}
    measured = {c["key"] for c in cases if c["key"] is not None}
    for key, value in new.items():
        if key in keep:
            out[key] = old[key] * scale
        elif old[key] == 0:
            out[key] = 0
        elif value <= 0 and key in measured:
            out[key] = 0
        else:
            out[key] = max(1, round(value))
    return out


def bound(cases, old, new):
    """(worst ratio to the median over all cases, worst overcharge over the calibrated
    keys (each judged by its dearest case), median, rates)."""
    r = rates(cases, old, new)
    median = statistics.median(r.values())
    worst = max(r.values()) / median
    cheapest = min(key_rates(cases, r).values(), default=median)
    overcharge = median / cheapest if cheapest > 0 else float("inf")
    return worst, overcharge, median, r


def outside(cases, r, median, args):
    """Cases more than max_ratio × the median, and keys overcharged more than
    max_overcharge."""
    out = [c["name"] for c in cases if c["name"] in r
           and r[c["name"]] > args.max_ratio * median]
    out += [key for key, rate in key_rates(cases, r).items()
            if rate * args.max_overcharge < median]
    return out


def access_units(case, prices):
    """Loads and stores the case performed (what a surcharge multiplies)."""
    u = units(case, prices)
    return sum(u.get(k, 0.0) for k in ACCESS_KEYS)


def tier_of(pages, thresholds):
    """Index of the highest tier whose threshold `pages` exceeds, None in tier 0."""
    tier = None
    for i, above in enumerate(thresholds):
        if pages > above:
            tier = i
    return tier


def derive_tiers(cases, old, new, median, thresholds, max_ratio):
    """(surcharges per tier, {case: (tier, ratio with the surcharges)}) for the mixes
    claiming `load` or `store` over a known memory size."""
    need = [0.0] * len(thresholds)
    accessing = []
    for c in cases:
        if c.get("claims") not in ACCESS_KEYS + (SURCHARGE,) or c.get("pages") is None:
            continue
        a = access_units(c, old)
        if a <= 0:
            continue
        accessing.append((c, a))
        tier = tier_of(c["pages"], thresholds)
        if tier is None:
            continue
        # Without the surcharge the run was measured under (version 6 runs), if any.
        gas = predicted_gas(c, old, new) - c["gas_by_key"].get(SURCHARGE, 0)
        need[tier] = max(need[tier], (c["t"] / (max_ratio * median) - gas) / a)
    surcharges = []
    for s in need:
        s = max(0, int(-(-s // 1)))  # ceil, never negative
        surcharges.append(max(s, surcharges[-1]) if surcharges else s)
    result = {}
    for c, a in accessing:
        tier = tier_of(c["pages"], thresholds)
        extra = 0 if tier is None else surcharges[tier] * a
        gas = predicted_gas(c, old, new) - c["gas_by_key"].get(SURCHARGE, 0)
        result[c["name"]] = (tier, c["t"] / (gas + extra) / median)
    return surcharges, result


def print_tiers(thresholds, surcharges, result, max_ratio):
    print("\nmemory-size surcharge per load and store (tier: memories above N pages):")
    print(f"  up to {thresholds[0]} pages: 0")
    for above, s in zip(thresholds, surcharges):
        print(f"  above {above} pages: {s}")
    print("predicted per accessing mix with the surcharge (ns per gas over the median):")
    for name, (tier, ratio) in result.items():
        where = "tier 0" if tier is None else f"above {thresholds[tier]}"
        flag = "  (over the bound in tier 0)" if tier is None and ratio > max_ratio else ""
        print(f"  {name:<34} {where:>10} {ratio:>8.2f}{flag}")


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("inputs", nargs="+", help="calibration JSON files")
    parser.add_argument("--max-ratio", type=float, default=2.0,
                        help="worst case over the median (default 2)")
    parser.add_argument("--max-overcharge", type=float, default=3.0,
                        help="median over the cheapest calibrated case (default 3)")
    parser.add_argument("--scale", type=int,
                        help="gas unit scale (default: of %s, the fewest cases outside the bound)"
                        % SCALES)
    parser.add_argument("--keep", metavar="KEY", action="append", default=[],
                        help="a price set for another reason than time (e.g. state growth): "
                        "kept at its current price × scale, its cases left out of the bound")
    parser.add_argument("--current", action="store_true",
                        help="derive nothing: the measured bound of the prices in force")
    parser.add_argument("--set", metavar="KEY=PRICE", action="append", default=[],
                        help="with --current: predict the bound with these prices changed "
                        "(the rest as measured), e.g. to check a hand-picked next version")
    parser.add_argument("--tiers", metavar="PAGES,...",
                        help="derive a memory-size surcharge per load and store for memories "
                        "above each of these page counts (ascending, e.g. 32,64,256)")
    parser.add_argument("--json", metavar="OUT", help="write the proposal as JSON")
    args = parser.parse_args(argv)
    thresholds = None
    if args.tiers:
        try:
            thresholds = [int(x) for x in args.tiers.split(",")]
        except ValueError:
            print(f"derive-costs: --tiers: not page counts: {args.tiers}", file=sys.stderr)
            return 2
        if thresholds != sorted(set(thresholds)) or thresholds[0] < 0:
            print("derive-costs: --tiers: thresholds must ascend", file=sys.stderr)
            return 2
    try:
        old, cases, unmeasured = load(args.inputs)
    except (OSError, ValueError, KeyError) as e:
        print(f"derive-costs: {e}", file=sys.stderr)
        return 2
    unknown = [key for key in args.keep if key not in old]
    if unknown:
        print(f"derive-costs: --keep: no price {', '.join(unknown)}", file=sys.stderr)
        return 2
    changes = {}
    for item in args.set:
        key, _, price = item.partition("=")
        if key not in old or not price.isdigit():
            print(f"derive-costs: --set: not KEY=PRICE for a known key: {item}", file=sys.stderr)
            return 2
        changes[key] = int(price)
    if changes and not args.current:
        print("derive-costs: --set needs --current", file=sys.stderr)
        return 2
    kept = [c["name"] for c in cases if c["key"] in args.keep]
    cases = [c for c in cases if c["key"] not in args.keep]

    best = None
    for scale in [1] if args.current else [args.scale] if args.scale else SCALES:
        if args.current:
            new = {**old, **changes}
        else:
            new = derive(cases, old, scale, args.max_ratio, args.max_overcharge, args.keep)
        worst, overcharge, median, r = bound(cases, old, new)
        met = worst <= args.max_ratio and overcharge <= args.max_overcharge
        score = (not met, len(outside(cases, r, median, args)), scale)
        if best is None or score < best[0]:
            best = (score, scale, new, worst, overcharge, median, r, met)
        if met:
            break
    _, scale, new, worst, overcharge, median, r, met = best

    if changes:
        print("prices in force with --set changes (predicted from the measured units)")
    elif args.current:
        print("prices in force (measured, nothing derived)")
    else:
        print(f"proposed prices (scale ×{scale}: gas limits scale by the same factor)")
    print(f"{'key':<34} {'current':>9} {'proposed':>9}")
    for key in sorted(old):
        mark = "" if new[key] == old[key] * scale else "  *"
        print(f"{key:<34} {old[key]:>9} {new[key]:>9}{mark}")
    what = "measured" if args.current and not changes else "predicted"
    print(f"\n{what} per case (ns per {'' if args.current else 'proposed '}gas over the median):")
    for c in cases:
        if c["name"] in r:
            print(f"  {c['name']:<34} {r[c['name']] / median:>8.2f}")
    print(f"\n{what} bound: worst case {worst:.2f}× the median (limit {args.max_ratio}), "
          f"most overcharged {overcharge:.2f}× (limit {args.max_overcharge}): "
          f"{'met' if met else 'NOT met'}")
    breaking = outside(cases, r, median, args)
    if kept:
        print(f"kept prices ({', '.join(args.keep)}), their cases not bounded: "
              + ", ".join(kept))
    if unmeasured:
        print("cases below the timer's resolution (not used): " + ", ".join(unmeasured))
    if breaking:
        print("cases outside the bound (need a price the table does not have, or "
              "re-measuring): " + ", ".join(breaking))
    tiers = None
    if thresholds:
        surcharges, result = derive_tiers(cases, old, new, median, thresholds, args.max_ratio)
        print_tiers(thresholds, surcharges, result, args.max_ratio)
        tiers = [{"above_pages": a, "surcharge": s} for a, s in zip(thresholds, surcharges)]
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump({"scale": scale, "prices": new, "worst_ratio": worst, "kept": args.keep,
                       "overcharge": overcharge, "bound_met": met,
                       "outside_bound": breaking, "access_tiers": tiers},
                      f, indent=2, sort_keys=True)
            f.write("\n")
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
