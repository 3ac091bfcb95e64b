#!/usr/bin/env python3
"""Write latency over HTTP: PUT /api/v1/entries one after another on one keep-alive connection,
each at a random tenant's tenant level, and print p50 and p99 in milliseconds as JSON.

Usage: writes.py BASE_URL TOKEN TENANT [TENANT...] [--count N] [--key KEY]
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
    args = parser.parse_args()
    url = urllib.parse.urlparse(args.base)
    conn = http.client.HTTPConnection(url.hostname, url.port)
    rng = random.Random(1)
    timings = []
    for n in range(args.count):
        tenant = rng.choice(args.tenants)
        body = json.dumps({"value": n % 10})
        started = time.perf_counter()
        conn.request(
            "PUT",
            f"/api/v1/entries/{args.key}?scope=tenant:{tenant}",
            body,
            {"authorization": f"Bearer {args.token}", "content-type": "application/json"},
        )
        response = conn.getresponse()
        response.read()
        timings.append((time.perf_counter() - started) * 1000)
        if response.status != 200:
            raise SystemExit(f"write {n} answered {response.status}")
    timings.sort()
    print(json.dumps({
        "count": len(timings),
        "p50_ms": round(statistics.median(timings), 2),
        "p99_ms": round(timings[int(len(timings) * 0.99) - 1], 2),
    }))


if __name__ == "__main__":
    main()
