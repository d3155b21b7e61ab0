"""Access review (issue 17): who can do what on every system, extracted from the facts a scan collects.

- ``scanner.access.model``: the frozen values (``Account``, ``Grant``, ``SystemAccess``) and their JSON form.
- ``scanner.access.extract``: per platform, which facts an access list needs and the pure function that builds it
  (``system_access(target, facts)``; fail closed: a required fact missing or broken makes the system ``error``).
- one module per platform (``linux``, ``windows``, ``directory``, ``aws``) exposing ``EXTRACTOR``.
"""
