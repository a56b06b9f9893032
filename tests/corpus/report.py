"""Run tfpcheck on the real-world corpus and print recall and false positives per rule family.

    python tests/corpus/report.py            # every case, one process (one probe worker)
    python tests/corpus/report.py NAME ...   # only these cases

Prints one line per case (expected codes, what tfpcheck reported, pass or miss) and then the
table README's "Real-world corpus" section shows: per family of the expected code, the
expected codes found out of those expected (recall), and for correct configurations the
number with an error-severity finding (false positives). Exit status 0 always: the test
module (tests/test_corpus.py) is the gate.
"""

from __future__ import annotations

import sys
import time

import _corpus  # this directory: Python puts a script's directory first on sys.path


def main(argv: list[str]) -> int:
    cases = _corpus.discover()
    if argv:
        unknown = sorted(set(argv) - {case.name for case in cases})
        if unknown:
            print(f"report.py: no such case: {', '.join(unknown)}", file=sys.stderr)
            return 2
        cases = [case for case in cases if case.name in argv]
    results = []
    start = time.monotonic()
    for case in cases:
        result = _corpus.run(case)
        results.append(result)
        verdict = "ok" if result.passed else "MISS" if not case.correct else "FALSE POSITIVE"
        expected = ",".join(case.expected) or "correct"
        reported = ",".join(sorted(set(result.codes))) or "-"
        if result.crash is not None:
            reported = "crash"
        print(f"{verdict:15} {case.name:50} expected {expected:14} reported {reported}")
    print()
    print(_corpus.markdown_table(_corpus.tally(results)))
    keras3 = sum(1 for case in cases if case.flavor == "keras3")
    print()
    print(
        f"{len(cases)} configurations ({sum(case.correct for case in cases)} correct, "
        f"{keras3} Keras 3) in {time.monotonic() - start:.0f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
