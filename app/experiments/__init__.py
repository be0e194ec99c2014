"""A/B tests that measure: the operator's outcome figures (``outcomes``) and
``pitboss experiments report`` (``report``, ``commands``); the split and the exposures
are the core's (``app.core.experiments``)."""
