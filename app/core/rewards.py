"""What a firing rule grants: the variant, the amount with its multipliers, the message.

Variants split players deterministically by a hash of (rule, player), so a player stays in
the same arm across events, batches, workers and rule versions.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from hashlib import blake2b

from app.core.languages import in_language
from app.core.rules import RewardSpec, Rule, Variant

#: Kinds whose amount is a quantity: a grant of zero of them is no grant at all.
QUANTITY_KINDS = frozenset({"POINTS", "XP", "WHEEL_SPIN", "FREE_SIDE_BET", "CASHBACK_OFFER"})


@dataclass(frozen=True, slots=True)
class Grant:
    kind: str
    amount: int
    message: str | None
    currency: str | None
    badge: str | None
    variant: str | None
    multiplier: float
    #: what the rule asked for (product and channel decide consent and policy)
    spec: RewardSpec


class _Fields(dict):
    """Template fields; an unknown ``{name}`` stays as written instead of failing."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def pick_variant(variants: tuple[Variant, ...], rule_id: str, player_id: str) -> Variant:
    digest = blake2b(f"{rule_id}\x1f{player_id}".encode(), digest_size=8).digest()
    point = int.from_bytes(digest, "big") % sum(v.weight for v in variants)
    for variant in variants:
        if point < variant.weight:
            return variant
        point -= variant.weight
    return variants[-1]


def grant_for(
    rule: Rule, event: dict, activation: object, profile: dict, stakes: int, streak_length: int
) -> Grant | None:
    """The grant for ``rule`` firing on ``event``, or None when it comes to nothing."""
    spec: RewardSpec = rule.reward
    variant = None
    if rule.variants:
        chosen = pick_variant(rule.variants, rule.rule_id, event["player_id"])
        spec, variant = chosen.reward, chosen.name
    if spec.percent_of_streak_stakes is not None:
        base = stakes * spec.percent_of_streak_stakes / 100
    elif callable(spec.amount):
        base = spec.amount(activation)
        if base is None:
            return None  # the expression failed on this event: nothing to grant
    else:
        base = spec.amount
    factor = 1.0
    t = event["occurred_at"]
    for m in rule.multipliers:
        if m.promo is not None and not m.promo.contains(t):
            continue
        if m.when is not None and not m.when(activation):
            continue
        factor *= m.factor
    amount = int(base * factor)
    if amount <= 0 and spec.kind in QUANTITY_KINDS:
        return None
    badge = message = None
    template = _template(spec, profile)
    if spec.badge or template:  # the fields only for a template to fill
        fields = _fields(event, profile, amount, spec.kind, variant, streak_length)
        badge = spec.badge.format_map(fields) if spec.badge else None
        fields["badge"] = badge or ""
        message = template.format_map(fields) if template else None
    bet = event.get("bet")
    return Grant(
        kind=spec.kind,
        amount=amount,
        message=message,
        currency=bet["currency"] if spec.kind == "CASHBACK_OFFER" and bet else None,
        badge=badge,
        variant=variant,
        multiplier=factor,
        spec=spec,
    )


def with_amount(grant: Grant, amount: int, event: dict, profile: dict, streak_length: int) -> Grant:
    """``grant`` for another amount (a boost's), its message telling the new amount."""
    message = _template(grant.spec, profile)
    if message:
        fields = _fields(event, profile, amount, grant.kind, grant.variant, streak_length)
        fields["badge"] = grant.badge or ""
        message = message.format_map(fields)
    return replace(grant, amount=amount, message=message)


def _template(spec: RewardSpec, profile: dict) -> str | None:
    """The reward's message template in the player's language, else the default."""
    return in_language(spec.message, spec.messages, profile.get("language"))


def _fields(
    event: dict, profile: dict, amount: int, kind: str, variant: str | None, streak_length: int
) -> _Fields:
    """What a reward's message and badge templates may name."""
    return _Fields(
        player=event["player_id"],
        dealer=event.get("dealer_id") or "the dealer",
        table=event["table_id"] or "",  # empty on an input of no table (a command)
        game=(event["game"] or "").lower(),
        game_variant=event.get("game_variant") or "",
        studio=event["studio_id"] or "",
        amount=amount,
        kind=kind,
        variant=variant or "",
        streak=streak_length,
        vip_tier=profile.get("vip_tier") or "NONE",
    )
