"""The rule set: rule files loaded, validated and selected (porttool.ruleset.registry), each
file checked against the rule format (schema), and the validated set kept between runs
(registry_cache)."""
