"""Check what `binary_info_test` found in a binary's RailyardBinaryInfo; the lock is read by the rules' own parser."""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--facts", required=True)
    parser.add_argument("--lock", required=True)
    parser.add_argument("--target", required=True)
    parser.add_argument("--entry-point", required=True)
    parser.add_argument("--src", required=True)
    parser.add_argument("--lockfile", required=True, help="rules/private/lockfile.py")
    args = parser.parse_args()
    sys.path.insert(0, str(Path(args.lockfile).resolve().parent))
    from lockfile import normalize, parse
    facts = json.loads(Path(args.facts).read_text())
    failures = []

    digest = hashlib.sha256(Path(facts["pex"]).read_bytes()).hexdigest()
    recorded = Path(facts["sha256"]).read_text()
    if recorded != digest + "\n":
        failures.append(f"sha256 file says {recorded!r}, the pex's bytes hash to {digest}")

    pins = {(key, pin.version) for key, pin in parse(Path(args.lock).read_text(), args.lock).items()}
    requirements = facts["requirements"]
    if len(requirements) != len(set(requirements)):
        failures.append("requirements repeat a pin")
    for requirement in requirements:
        name, _, version = requirement.partition("==")
        if (normalize(name), version) not in pins:
            failures.append(f"requirement {requirement} is not pinned in the lock")
    if not any(r.startswith("scikit-learn==") for r in requirements):
        failures.append(f"no scikit-learn among the requirements {requirements}")

    if facts["target"] != args.target:
        failures.append(f"target {facts['target']} != {args.target}")
    if facts["entry_point"] != args.entry_point:
        failures.append(f"entry_point {facts['entry_point']} != {args.entry_point}")
    if args.src not in facts["srcs"]:
        failures.append(f"{args.src} is not among the srcs {facts['srcs']}")
    if any(s.startswith("railyard/") for s in facts["srcs"]):
        failures.append("srcs hold runtime sources")

    if failures:
        sys.exit("FAIL:\n" + "\n".join(failures))
    print(f"PASS: {args.target}: {len(requirements)} locked requirements, sha256 {digest[:12]}…")


if __name__ == "__main__":
    main()
