"""The scan stage: which files (discovery), their text (sources, notebooks), what is suppressed,
the import table, the rule index and matcher, backend-dispatch and guarded-branch analysis, per-file
analysis and findings, the scan run with its result cache, the baseline and changed-files filters.

Scanning never mutates, never imports torch or libcst, and never runs the code it reads."""
