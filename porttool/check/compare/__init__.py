"""``porttool check --compare`` and ``porttool compare``: does the port compute what the original
computed?  ``session`` runs both and records their numbers (``records``), ``judge`` compares them
with tolerances from the dtypes involved (``precision``), ``report`` renders text, JSON and the SVG
loss curves (``curves``); ``original`` checks the original out and makes the data visible to it."""
