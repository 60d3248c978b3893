"""The operator's catalogue: tariffs, shops, agents, channels, handsets, letter campaigns."""

from __future__ import annotations

from decimal import Decimal

TARIFFS: dict[str, tuple[tuple[str, Decimal], ...]] = {
    "voice": tuple(
        (code, Decimal(fee))
        for code, fee in (
            ("VOX-S-10", "10.00"),
            ("VOX-M-15", "15.00"),
            ("VOX-M-18", "18.50"),
            ("VOX-L-22", "22.50"),
            ("VOX-L-27", "27.99"),
            ("VOX-XL-35", "35.00"),
            ("VOX-XL-44", "44.00"),
        )
    ),
    "data": tuple(
        (code, Decimal(fee))
        for code, fee in (
            ("DAT-5GB", "5.00"),
            ("DAT-20GB", "9.99"),
            ("DAT-50GB", "12.00"),
            ("DAT-100GB", "16.50"),
            ("DAT-UNL", "20.00"),
        )
    ),
}

STORES = tuple(f"ST{n:03d}" for n in range(1, 41))
AGENTS = tuple(f"AG{n:04d}" for n in range(1, 121))

# (channel, weight) by kind of action.
CHANNEL_MIX = {
    "sale": (("store", 45), ("online", 25), ("telesales", 20), ("social", 10)),
    "service": (("store", 50), ("online", 30), ("social", 20)),
    "leave": (("telesales", 50), ("store", 25), ("social", 25)),
}

HANDSETS = (
    ("Pixel 8, 128GB", Decimal("24.99")),
    ("iPhone 15, 128GB", Decimal("36.50")),
    ("Galaxy S24, 256GB", Decimal("33.75")),
    ('Moto G54 5G, 6.5" screen', Decimal("9.99")),
    ("Fairphone 5", Decimal("21.00")),
)
INSTALMENTS = 24

USAGE_DESCRIPTION = "Usage: calls, texts, data"
PAPER_BILL = ("Paper bill fee", Decimal("2.50"))
LETTER_CHANNELS = (("letter", 40), ("email", 45), ("sms", 15))
