"""Strata read by a real OpenFeature SDK through its OFREP provider (no Strata-specific code),
against a release server loaded with the demo organisation. Run by server/tests/ofrep.sh.

Usage: ofrep_sdk.py BASE_URL TOKEN
"""

import sys

import requests
from openfeature import api
from openfeature.contrib.provider.ofrep import OFREPProvider
from openfeature.evaluation_context import EvaluationContext
from openfeature.exception import ErrorCode
from openfeature.flag_evaluation import Reason

base, token = sys.argv[1], sys.argv[2]
auth = {"Authorization": f"Bearer {token}"}
api.set_provider(OFREPProvider(base, headers_factory=lambda: dict(auth)))
client = api.get_client()
failures = []


def check(what, got, expected):
    if got != expected:
        failures.append(f"{what}: got {got!r}, expected {expected!r}")


def effective(query):
    response = requests.get(f"{base}/api/v1/effective?{query}", headers=auth, timeout=5)
    response.raise_for_status()
    return response.json()


def evaluate(key, default, context):
    kind = type(default)
    if kind is bool:
        return client.get_boolean_details(key, default, context)
    if kind is int:
        return client.get_integer_details(key, default, context)
    if kind is float:
        return client.get_float_details(key, default, context)
    if kind is str:
        return client.get_string_details(key, default, context)
    return client.get_object_details(key, default, context)


house = EvaluationContext(targeting_key="dr_house")
what_if = EvaluationContext(
    attributes={"tenant": "general_hospital", "department": "cardiology", "groups": ["on_call"]}
)
cases = [
    (house, "user=dr_house"),
    (what_if, "tenant=general_hospital&department=cardiology&group=on_call"),
]
# Every type of key the demo has, each evaluated as its type.
defaults = {
    "features.chat.enabled": False,
    "fax.retry_attempts": -1,
    "providers.timeout_seconds": -1.0,
    "branding.color": "none",
    "uploads.allowed_types": ["none"],
}
for context, query in cases:
    expected = effective(query)
    for key, default in defaults.items():
        details = evaluate(key, default, context)
        want = expected[key]
        check(f"{query} {key} error", details.error_code, None)
        check(f"{query} {key} value", details.value, want["value"])
        reason = Reason.STATIC if want["level"] == "default" else Reason.TARGETING_MATCH
        check(f"{query} {key} reason", details.reason, reason)
        check(f"{query} {key} variant", details.variant, want["level"])
        check(f"{query} {key} metadata level", details.flag_metadata.get("level"), want["level"])
        if want["scope"] is not None:
            check(f"{query} {key} metadata scope", details.flag_metadata.get("scope"), want["scope"])

# A sensitive key answers masked, exactly as /effective shows it without reveal.
secret = client.get_string_details("providers.phaxio.api_key", "none", house)
check("secret value", secret.value, effective("user=dr_house")["providers.phaxio.api_key"]["value"])
check("secret is not shown", "phx_live" in str(secret.value), False)

# A change through the API is what the next evaluation sees.
response = requests.put(
    f"{base}/api/v1/entries/branding.color?scope=user:dr_house",
    json={"value": "#0f0f0f"},
    headers=auth,
    timeout=5,
)
response.raise_for_status()
changed = client.get_string_details("branding.color", "none", house)
check("after a change", (changed.value, changed.variant), ("#0f0f0f", "user"))

# Failures come back as OpenFeature errors with the code default.
missing = client.get_boolean_details("no.such.flag", True, house)
check("unknown flag", (missing.value, missing.error_code), (True, ErrorCode.FLAG_NOT_FOUND))
stranger = client.get_boolean_details(
    "features.chat.enabled", True, EvaluationContext(targeting_key="nobody_here")
)
check("unknown user", (stranger.value, stranger.error_code), (True, ErrorCode.INVALID_CONTEXT))
nothing = client.get_boolean_details("features.chat.enabled", True, EvaluationContext())
check("no context", nothing.error_code, ErrorCode.TARGETING_KEY_MISSING)
wrong_type = client.get_integer_details("branding.color", 5, house)
check("type mismatch", (wrong_type.value, wrong_type.error_code), (5, ErrorCode.TYPE_MISMATCH))

api.set_provider(OFREPProvider(base, headers_factory=lambda: {"Authorization": "Bearer strata_wrong"}))
refused = api.get_client().get_boolean_details("features.chat.enabled", True, house)
check("bad token", (refused.value, refused.error_code), (True, ErrorCode.GENERAL))

# The bulk evaluation, with its ETag, and the configuration.
url = f"{base}/ofrep/v1/evaluate/flags"
body = {"context": {"targetingKey": "dr_house"}}
bulk = requests.post(url, json=body, headers=auth, timeout=5)
check("bulk status", bulk.status_code, 200)
flags = {f["key"]: f for f in bulk.json()["flags"]}
check("bulk covers every key", set(flags), set(effective("user=dr_house")))
check("bulk value", flags["branding.color"]["value"], "#0f0f0f")
etag = bulk.headers["ETag"]
again = requests.post(url, json=body, headers={**auth, "If-None-Match": etag}, timeout=5)
check("bulk unchanged", again.status_code, 304)
requests.delete(
    f"{base}/api/v1/entries/branding.color?scope=user:dr_house", headers=auth, timeout=5
).raise_for_status()
after = requests.post(url, json=body, headers={**auth, "If-None-Match": etag}, timeout=5)
check("bulk after a change", after.status_code, 200)
configuration = requests.get(f"{base}/ofrep/v1/configuration", headers=auth, timeout=5)
check("configuration", configuration.json()["capabilities"]["cacheInvalidation"]["polling"]["enabled"], True)

if failures:
    print("\n".join(failures))
    sys.exit(1)
print(f"OFREP: an OpenFeature SDK read {len(cases) * len(defaults)} flags and every refusal as expected")
