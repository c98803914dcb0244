"""How well advice is de-identified: identifiers missed, ordinary words wrongly scrubbed.

    .venv/bin/python -m tests.benchmarks.deidentify [--show-differences]

Runs the scrubber over the corpus in ``deidentify_corpus.txt`` (case notes, chronology
entries, referral wording and questions about the setting in ``deidentify_setting.py``,
each identifier marked with what should replace it) and prints:

- identifiers missed: an identifier any word of which reached the adviser (goal: 0);
- ordinary words wrongly scrubbed, as a share of every word that identifies nobody
  (goal: under 2%);
- sentences scrubbed exactly as expected, placeholders included;
- how long scrubbing takes, for the corpus and for one long question (the whole corpus
  repeated to about 32,000 characters, the most a question may hold being 4,000).

No database is needed: the setting is built from unsaved records.
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")

import django  # noqa: E402

django.setup()

from cases.deidentify import scrub  # noqa: E402

from .deidentify_setting import identity, measure, sentences  # noqa: E402


def run(show_differences: bool) -> None:
    corpus = sentences()
    known = identity()
    scrub("warm up the word list", known)

    started = time.perf_counter()
    result = measure(corpus, known)
    measuring = time.perf_counter() - started

    long_text = " ".join(sentence.text for sentence in corpus)
    long_text = (long_text + " ") * (32_000 // len(long_text) + 1)
    long_text = long_text[:32_000]
    started = time.perf_counter()
    scrub(long_text, known)
    long_one = time.perf_counter() - started

    print(f"sentences: {result.sentences}, identifiers marked: {result.identifiers}")
    print(f"identifiers missed: {len(result.missed)}")
    for number, missed in result.missed:
        print(f"  line {number}: {missed!r}")
    print(
        f"ordinary words wrongly scrubbed: {len(result.over_scrubbed)} of "
        f"{result.ordinary_words} ({result.over_scrubbed_share:.2%})"
    )
    for number, word in result.over_scrubbed:
        print(f"  line {number}: {word!r}")
    print(f"sentences scrubbed exactly as expected: {result.exact} of {result.sentences}")
    if show_differences:
        for number, expected, scrubbed in result.different:
            print(f"  line {number}:\n    expected {expected}\n    scrubbed {scrubbed}")
    print(f"time: corpus measured in {measuring * 1000:.0f} ms;", end=" ")
    print(f"one {len(long_text):,}-character question scrubbed in {long_one * 1000:.0f} ms")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--show-differences", action="store_true")
    run(parser.parse_args().show_differences)
