"""The rewrite stage: fix planning, building each replacement (replacements, handlers/), the libcst
transform over the statements that hold a site (transform, locator, partial_module,
module_edits), verification of every result, the rewrite run, and writing the port back."""
