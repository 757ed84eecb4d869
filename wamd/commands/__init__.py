"""The ``wamd pair``, ``wamd echo`` and ``wamd demo`` subcommands, and what they share.

- ``wamd.commands.echo``: the echo bot's rules (``skip_reason``, ``echo_handler``; the one
  implementation that ``wamd echo``, ``wamd demo`` and ``examples/echo_bot.py`` use) and
  ``run_echo_bot``;
- ``wamd.commands.pair``: link a device and store its auth state;
- ``wamd.commands.demo``: the offline demo against an in-process ``wamd.sim``;
- ``wamd.commands.options``: ``--sim-url``/``--sim-root-key`` and ``--auth``/``--auth-dir``;
- ``wamd.commands.session``: a socket that saves its credentials and prints status lines;
- ``wamd.commands.status``: the status lines and the logging set-up.

Each subcommand module has ``HELP``, ``add_arguments(parser)`` and ``run(args) -> int``,
which ``wamd.cli`` lists in its subcommand table. Heavy imports (the sim) happen inside
``run``.
"""
