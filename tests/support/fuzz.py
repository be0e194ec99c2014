"""One schemathesis fuzz of one OpenAPI operation against a running server, shared by the
tests of every HTTP surface (the gateway's, the intake's): no 5xx, no traceback in any answer."""

from __future__ import annotations

from collections.abc import Mapping

from hypothesis import HealthCheck, given, settings
from schemathesis.generation.modes import GenerationMode


def fuzz(
    operation,
    mode: GenerationMode,
    base_url: str,
    headers: Mapping[str, str],
    path_values: Mapping[str, str],
) -> set[int]:
    """Fuzz ``operation`` (in positive mode with ``path_values`` in its path, so requests get
    past the door); the statuses it answered."""
    statuses: set[int] = set()
    positive = mode is GenerationMode.POSITIVE

    @settings(
        max_examples=25,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def call(case) -> None:
        if positive and case.path_parameters:
            case.path_parameters.update(
                {k: v for k, v in path_values.items() if k in case.path_parameters}
            )
        response = case.call(base_url=base_url, headers=dict(headers), timeout=30)
        statuses.add(response.status_code)
        assert response.status_code < 500, (case.path, case.body, response.text[:300])
        assert "Traceback" not in response.text and 'File "' not in response.text

    call()
    return statuses
