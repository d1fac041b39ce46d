"""Hand-written code as a student writes it, with its own names: what the pages show the ``check`` and ``convert``
commands on (computed, never typed), and what the tests run them on."""
