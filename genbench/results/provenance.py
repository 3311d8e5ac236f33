"""Which plugins made a run, read from its record's ``versions``.

A record lists every plugin distribution that contributed as ``"plugin:<distribution>":
version`` (the model's, the dataset's, each metric's and extractor's), and under ``"plugins"``
who provided what::

    "plugins": {"model": {"name": "tinygan", "plugin": "mymodel",
                          "distribution": "genbench-mymodel", "version": "0.3.1"},
                "dataset": {...}, "metrics": [{...}, ...], "extractors": [{...}, ...]}

Records written before ``"plugins"`` existed hold one ``plugin:`` key, the model's plugin's,
so the model's plugin is still known for them (its entry-point name is not).
"""

from __future__ import annotations

from genbench.results.record import RunRecord

PREFIX = "plugin:"


def distributions(versions: dict) -> dict[str, str]:
    """``{distribution: version}`` of every plugin a record lists."""
    return {key[len(PREFIX):]: str(value) for key, value in versions.items()
            if key.startswith(PREFIX)}


def provider(versions: dict, role: str = "model") -> dict | None:
    """The plugin that provided the run's ``role`` ("model" or "dataset"): ``{"plugin",
    "distribution", "version"}`` (``plugin`` "" where the record predates it), or None where
    the record does not say."""
    found = (versions.get("plugins") or {}).get(role)
    if isinstance(found, dict) and found.get("distribution"):
        return found
    listed = distributions(versions)
    if role == "model" and "plugins" not in versions and len(listed) == 1:
        (distribution, version), = listed.items()
        return {"plugin": "", "distribution": distribution, "version": version}
    return None


def model_plugin(record: RunRecord) -> tuple[str, str] | None:
    """(distribution, version) of the plugin that provided the record's model, or None."""
    found = provider(record.versions)
    return (found["distribution"], found["version"]) if found else None


def model_label(record: RunRecord) -> str:
    """The model with its plugin's version: ``tinygan (genbench-mymodel 0.3.1)``."""
    found = model_plugin(record)
    return f"{record.model} ({' '.join(found) if found else 'plugin not recorded'})"


def by_plugin_version(records: list[RunRecord]) -> list[RunRecord]:
    """The records, with the model of each model made with more than one version of its
    plugin relabelled :func:`model_label`: every table that groups runs by model then keeps
    the versions apart, and shows the version only where it tells runs apart (so boards of
    one version per model look as they always did). Idempotent."""
    import dataclasses

    seen: dict[str, set] = {}
    for r in records:
        if r.status == "completed":
            seen.setdefault(r.model, set()).add(model_plugin(r))
    return [dataclasses.replace(r, model=model_label(r)) if len(seen.get(r.model, ())) > 1
            else r for r in records]


def version_differences(a: list[RunRecord], b: list[RunRecord]) -> list[str]:
    """One phrase per plugin distribution that both selections used in different versions:
    ``genbench-mymodel 0.3.1 in A, 0.4.0 in B``."""
    def used(runs: list[RunRecord]) -> dict[str, set[str]]:
        found: dict[str, set[str]] = {}
        for r in runs:
            for distribution, version in distributions(r.versions).items():
                found.setdefault(distribution, set()).add(version)
        return found

    in_a, in_b = used(a), used(b)
    return [f"{d} {', '.join(sorted(in_a[d]))} in A, {', '.join(sorted(in_b[d]))} in B"
            for d in sorted(set(in_a) & set(in_b)) if in_a[d] != in_b[d]]
