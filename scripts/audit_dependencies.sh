#!/usr/bin/env bash
# Audit requirements/lock.txt for known vulnerabilities. Writes its results to build/audit/.
#
# Fetches only from package registries (PyPI through pip's configured index) plus the two
# vulnerability services that pip-audit itself queries: pypi.org's JSON API and api.osv.dev.
# It never installs anything into .venv: it makes its own venv in build/audit-venv.
#
# Steps:
#   1. pip-audit -s pypi  and  pip-audit -s osv  on the lock (--no-deps: the lock is complete and
#      every line is an exact `name==version` pin, which step 0 checks).
#      pip-audit prints "No known vulnerabilities found" and exits 0 even when it SKIPPED every
#      package (pypi.org's per-version JSON answers 404 on this network). This script counts the
#      skips and fails when a service did not audit all packages.
#   2. Offline fallback: safety-db (PyUp's free database, on PyPI), matched against the lock.
#      Its last release is 2021.7.17, so it only knows advisories published before July 2021: a
#      clean result from it says nothing about anything published since.
#
# Exit status: 0 only if at least one online service audited every package and found nothing.
# 1 if findings were reported, 2 if no service could audit the lock (offline result only).
set -uo pipefail
cd "$(dirname "$0")/.."

LOCK=${LOCK:-requirements/lock.txt}
VENV=build/audit-venv
OUT=build/audit
PIP_AUDIT_VERSION=${PIP_AUDIT_VERSION:-2.10.1}
SAFETY_DB_VERSION=2021.7.17
PYTHON=${PYTHON:-python3}
mkdir -p "$OUT"

# 0. The lock must pin every package exactly, or --no-deps would audit something else.
unpinned=$(grep -vE '^[[:space:]]*(#|$)' "$LOCK" \
  | grep -vE '^[A-Za-z0-9_.-]+(\[[A-Za-z0-9_,.-]+\])?==[^[:space:];]+[[:space:]]*$' || true)
if [ -n "$unpinned" ]; then
  echo "audit: lines of $LOCK that are not exact pins:" >&2
  echo "$unpinned" >&2
  exit 2
fi
packages=$(grep -cE '^[A-Za-z0-9_.-]+==' "$LOCK")
echo "audit: $LOCK pins $packages packages exactly"

if [ ! -x "$VENV/bin/pip-audit" ]; then
  "$PYTHON" -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
    "pip-audit==$PIP_AUDIT_VERSION" "safety-db==$SAFETY_DB_VERSION" packaging \
    2> >(grep -v "is ignored: it is neither a file nor a directory" >&2)
fi

audited_by_a_service=0
findings=0
for service in pypi osv; do
  echo "audit: pip-audit -s $service"
  "$VENV/bin/pip-audit" -r "$LOCK" --no-deps --disable-pip -s "$service" --timeout 30 \
    --format json -o "$OUT/pip-audit-$service.json" >"$OUT/pip-audit-$service.out" 2>"$OUT/pip-audit-$service.err"
  rc=$?
  if [ ! -s "$OUT/pip-audit-$service.json" ]; then
    echo "audit:   $service: did not run (exit $rc): $(grep -oE '[A-Za-z]*Error[^)]*\)' "$OUT/pip-audit-$service.err" | tail -1)"
    continue
  fi
  read -r total skipped vulnerable vulns < <("$VENV/bin/python" - "$OUT/pip-audit-$service.json" <<'EOF'
import json, sys
deps = json.load(open(sys.argv[1]))["dependencies"]
skipped = [d for d in deps if "skip_reason" in d]
vulnerable = [d for d in deps if d.get("vulns")]
print(len(deps), len(skipped), len(vulnerable), sum(len(d["vulns"]) for d in vulnerable))
EOF
)
  echo "audit:   $service: $total packages, $skipped skipped (not audited), $vulnerable vulnerable, $vulns advisories"
  if [ "$skipped" -eq 0 ]; then audited_by_a_service=1; fi
  if [ "$vulns" -gt 0 ]; then findings=1; fi
done

echo "audit: offline check against safety-db $SAFETY_DB_VERSION (advisories up to July 2021 only)"
"$VENV/bin/python" - "$LOCK" >"$OUT/safety-db.txt" <<'EOF'
import json, re, sys
import importlib.util, pathlib
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version
# Located without importing it: safety_db/__init__.py opens a relative path and fails on import.
data_dir = pathlib.Path(importlib.util.find_spec("safety_db").submodule_search_locations[0])
db = json.loads((data_dir / "insecure_full.json").read_text())
meta = db.pop("$meta")
db = {canonicalize_name(name): advisories for name, advisories in db.items()}
lock = {}
for line in open(sys.argv[1]):
    m = re.match(r"^([A-Za-z0-9_.-]+)(?:\[[^\]]*\])?==(\S+)", line)
    if m:
        lock[canonicalize_name(m.group(1))] = m.group(2)
print(f"safety-db metadata: {meta}")
print(f"{len(lock)} pinned packages, {sum(n in db for n in lock)} of them have entries in safety-db")
hits = 0
for name, version in sorted(lock.items()):
    for adv in db.get(name, []):
        if any(Version(version) in SpecifierSet(spec) for spec in adv["specs"]):
            hits += 1
            print(f"FINDING {name}=={version} {adv['id']} {adv.get('cve') or ''} specs={adv['specs']}: {adv['advisory'][:200]}")
print(f"{hits} findings")
EOF
[ $? -eq 0 ] || { echo "audit: the safety-db check failed" >&2; exit 2; }
tail -1 "$OUT/safety-db.txt" | sed 's/^/audit:   safety-db: /'
if grep -q '^FINDING' "$OUT/safety-db.txt"; then findings=1; fi

echo "audit: raw outputs are in $OUT/"
if [ "$findings" -eq 1 ]; then exit 1; fi
if [ "$audited_by_a_service" -eq 0 ]; then
  echo "audit: NO vulnerability service could audit the lock; the only clean result is from a 2021 database." >&2
  exit 2
fi
exit 0
