"""The rule set: rule files loaded, validated and selected (porttool.ruleset.registry), each
file checked against the rule format (schema), and the validated set kept between runs
(registry_cache)."""


class RuleError(Exception):
    """A rule file is invalid. The message names the file and the key."""

    def __init__(self, source: str, key: str, problem: str) -> None:
        super().__init__(f"{source}: {key}: {problem}")
        self.source, self.key, self.problem = source, key, problem
