"""The ``bioinstruct`` sub-commands, one module each (``generate``, ``dedup``, ``decontaminate``,
``train``, ``evaluate``, ``benchmarks``, ``push``): the top layer, which turns flags and config
files into the stages' objects (a decontamination rule handed to the builder, an evaluation
config) and may import every layer below it. ``bioinstruct.cli`` dispatches to them.
"""
