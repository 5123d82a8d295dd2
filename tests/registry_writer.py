"""A burst of session records written one transaction each, for the durability test and the
write benchmark: prints each session's id after its commit returns (an acknowledged write).

    python tests/registry_writer.py URL PATIENT_UID N
"""

from __future__ import annotations

import sys
import time
from datetime import UTC, datetime, timedelta

from ketasim.registry import Registry


def main() -> None:
    url, patient_uid, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    registry = Registry.open(url)
    nurse = registry.actor("nurse")
    start = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)
    for i in range(n):
        t0 = time.perf_counter()
        s = registry.record_session(
            nurse,
            {"patient_uid": patient_uid, "started_at": (start + timedelta(hours=i)).isoformat(), "drug": "esketamine",
             "route": "intranasal", "dose_mg": 56, "lot_number": f"L{i}"},
        )  # fmt: skip
        print(f"{s.uid} {time.perf_counter() - t0:.6f}", flush=True)


if __name__ == "__main__":
    main()
