#!/usr/bin/env python3
"""Write latency over HTTP: PUT /api/v1/entries one after another on one keep-alive connection,
each at a random tenant's tenant level, and print p50 and p99 in milliseconds as JSON. With
--users, directory writes instead: POST /api/v1/users, each a new user of a random tenant.

Usage: writes.py BASE_URL TOKEN TENANT [TENANT...] [--count N] [--key KEY] [--users]
"""
import argparse
import http.client
import json
import random
import statistics
import time
import urllib.parse


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("base")
    parser.add_argument("token")
    parser.add_argument("tenants", nargs="+")
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--key", default="bench.k000")
    parser.add_argument("--users", action="store_true")
    args = parser.parse_args()
    url = urllib.parse.urlparse(args.base)
    conn = http.client.HTTPConnection(url.hostname, url.port)
    rng = random.Random(1)
    timings = []
    for n in range(args.count):
        tenant = rng.choice(args.tenants)
        if args.users:
            method, path = "POST", "/api/v1/users"
            body = json.dumps({"id": f"bench_writer_{n}", "name": f"Bench {n}", "tenant": tenant})
            expected = 201
        else:
            method, path = "PUT", f"/api/v1/entries/{args.key}?scope=tenant:{tenant}"
            body = json.dumps({"value": n % 10})
            expected = 200
        started = time.perf_counter()
        conn.request(
            method,
            path,
            body,
            {"authorization": f"Bearer {args.token}", "content-type": "application/json"},
        )
        response = conn.getresponse()
        response.read()
        timings.append((time.perf_counter() - started) * 1000)
        if response.status != expected:
            raise SystemExit(f"write {n} answered {response.status}")
    timings.sort()
    print(json.dumps({
        "count": len(timings),
        "p50_ms": round(statistics.median(timings), 2),
        "p99_ms": round(timings[int(len(timings) * 0.99) - 1], 2),
    }))


if __name__ == "__main__":
    main()
