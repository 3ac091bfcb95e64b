#!/usr/bin/env python3
"""The platform of DESIGN §8 as a strata/v1 document, deterministic (same arguments, same bytes).

At the default size: 1,000 tenants, 100,000 users, 200 keys, 1,000,000 entries. Each tenant has
5 departments, 10 groups and 100 users (each in a department and 2 groups); each holds entries at
the tenant (50), department (5 x 20), group (10 x 20) and user level (650), plus 200 global ones.

Usage: platform.py [--tenants N] [--users-per-tenant N] > platform.json
"""
import argparse
import json
import random
import sys


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tenants", type=int, default=1000)
    parser.add_argument("--users-per-tenant", type=int, default=100)
    args = parser.parse_args()
    rng = random.Random(8)
    keys = []
    for i in range(200):
        kind = ("integer", "boolean", "string", "enum")[i % 4]
        key = {"key": f"bench.k{i:03}", "type": kind, "category": f"Bench {i % 10}"}
        if kind == "enum":
            key["options"] = ["a", "b", "c"]
        keys.append(key)

    def value(i: int):
        kind = keys[i]["type"]
        if kind == "integer":
            return rng.randrange(1000)
        if kind == "boolean":
            return rng.random() < 0.5
        if kind == "enum":
            return rng.choice(["a", "b", "c"])
        return f"v{rng.randrange(10 ** 6)}"

    def some_keys(n: int):
        return sorted(rng.sample(range(200), n))

    out = sys.stdout
    out.write('{"format": "strata/v1", "keys": ')
    json.dump(keys, out)
    out.write(', "tenants": [')
    for t in range(args.tenants):
        tenant = {
            "id": f"t{t:04}",
            "name": f"Tenant {t}",
            "departments": [{"id": f"d{d}", "name": f"Department {d}"} for d in range(5)],
            "groups": [
                {"id": f"g{g}", "name": f"Group {g}", "priority": g} for g in range(10)
            ],
        }
        out.write(("," if t else "") + json.dumps(tenant))
    out.write('], "users": [')
    first = True
    for t in range(args.tenants):
        for u in range(args.users_per_tenant):
            user = {
                "id": f"u{t:04}_{u:03}",
                "name": f"User {u} of {t}",
                "tenant": f"t{t:04}",
                "department": f"d{u % 5}",
                "groups": sorted({f"g{u % 10}", f"g{(u * 7 + 3) % 10}"}),
            }
            out.write(("" if first else ",") + json.dumps(user))
            first = False
    out.write('], "entries": [')
    first = True

    def entry(e: dict) -> None:
        nonlocal first
        out.write(("" if first else ",") + json.dumps(e))
        first = False

    for i in range(200):
        entry({"level": "global", "key": f"bench.k{i:03}", "value": value(i)})
    for t in range(args.tenants):
        tenant = f"t{t:04}"
        for i in some_keys(50):
            entry({"level": "tenant", "tenant": tenant, "key": f"bench.k{i:03}", "value": value(i)})
        for d in range(5):
            for i in some_keys(20):
                entry({"level": "department", "tenant": tenant, "department": f"d{d}",
                       "key": f"bench.k{i:03}", "value": value(i)})
        for g in range(10):
            for i in some_keys(20):
                entry({"level": "group", "tenant": tenant, "group": f"g{g}",
                       "key": f"bench.k{i:03}", "value": value(i)})
        for u in range(args.users_per_tenant):
            for i in some_keys(6 + (u % 2)):
                entry({"level": "user", "user": f"u{t:04}_{u:03}",
                       "key": f"bench.k{i:03}", "value": value(i)})
    out.write("]}\n")


if __name__ == "__main__":
    main()
