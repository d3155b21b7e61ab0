"""The fact contract: the frozen value types collectors produce and checks consume, one module per platform.

Collectors (``scanner/collectors/``) build these values; checks (``checks/``) receive them by parameter name.
They express meaning (``password_never_expires: bool``, ``arn``), never wire encodings: knowledge of the
wire format (userAccountControl bits, public-access-block keys, ARN building) lives once, in the collector.
"""
