"""A plugin that cannot be imported, on purpose (see tests/test_third_party.py).

Do not install it into a working environment: every motifprobe command would warn about it.
"""
raise ImportError("motifprobe_broken_plugin is broken on purpose (it needs a package that does not exist)")
