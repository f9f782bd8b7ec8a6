"""motifprobe's engine: datasets, plugins, interpretation, statistics, reports.

Installed, this is ``motifprobe.engine``; the public API is re-exported from ``motifprobe``.
"""
