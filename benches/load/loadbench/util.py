"""Small helpers of the report: medians and Markdown tables."""

import statistics


def med(samples, key):
    return statistics.median(s[key] for s in samples)


def fmt_table(header, rows):
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(out)


def not_measured(section):
    return f"*Not measured in this run (`--only` without `{section}`).*"


def verdict(ok):
    return "**met**" if ok else "**not met**"
