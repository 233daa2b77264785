"""The launcher: the ``pillarstream`` console script and the ``python -m`` entry points.

It is the only package that knows every deployable (it starts them); nothing imports it but the tests and
the benches. ``python -m launcher`` is the ``pillarstream`` command; ``python -m launcher.receiver``,
``launcher.worker ROLE``, ``launcher.backfill`` and ``launcher.dashboards`` are its subcommands.
"""
