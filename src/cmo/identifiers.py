"""Check digits of practitioner identifiers: the NPI (Luhn on prefix 80840) and the DEA number.

Analytics-free (no Django, no Ibis): the demo generator and the staff app both use it.

NPI source: CMS, "Requirements for National Provider Identifier (NPI) and NPI Enumeration
Check Digit" (2005): the tenth digit is a Luhn check digit computed over the 9-digit base
prefixed with the card-issuer identifier 80840 (equivalently: Luhn over the 9 digits with the
constant 24 added).
"""

from __future__ import annotations

NPI_PREFIX = "80840"


def _luhn_sum(digits: str) -> int:
    """Luhn sum of ``digits`` where the rightmost digit is *not* doubled."""
    total = 0
    for pos, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if pos % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total


def check_digit(base9: str) -> int:
    """The NPI check digit for a 9-digit base (CMS worked example: 123456789 -> 3)."""
    if len(base9) != 9 or not base9.isdigit():
        raise ValueError(f"an NPI base has 9 digits, got {base9!r}")
    # Append a 0 placeholder so the doubling positions match those of the full number.
    return (10 - _luhn_sum(NPI_PREFIX + base9 + "0") % 10) % 10


def is_valid_npi(value: str) -> bool:
    """True for a 10-digit NPI (or the 15-digit 80840-prefixed form) whose Luhn check passes."""
    if not value.isdigit():
        return False
    if len(value) == 15 and value.startswith(NPI_PREFIX):
        return _luhn_sum(value) % 10 == 0
    if len(value) != 10:
        return False
    return _luhn_sum(NPI_PREFIX + value) % 10 == 0


def make_npi(base9: int) -> str:
    """A valid NPI from a 9-digit integer base (100000000..299999999 keeps the leading 1 or 2)."""
    text = f"{base9:09d}"
    return text + str(check_digit(text))


def dea_check_digit(first_six: str) -> int:
    """The DEA check digit of the first six digits (``123456`` -> 3, as in ``AB1234563``)."""
    if len(first_six) != 6 or not first_six.isdigit():
        raise ValueError(f"a DEA number has six digits before its check digit, got {first_six!r}")
    d = [ord(c) - 48 for c in first_six]
    return (d[0] + d[2] + d[4] + 2 * (d[1] + d[3] + d[5])) % 10


def is_valid_dea(value: str) -> bool:
    """True for a DEA registration number (two letters, seven digits) whose check digit is right.

    The published algorithm (DEA registration number format, as taught in pharmacy references
    with the worked examples ``AB1234563`` and ``BJ6125341``): with digits d1..d7, the last
    digit of ``(d1 + d3 + d5) + 2 * (d2 + d4 + d6)`` is d7. The first letter is the registrant
    type, the second the registrant's last-name initial (``9`` for some business registrants).
    """
    text = value.strip().upper()
    if len(text) != 9 or not text[0].isalpha() or not (text[1].isalpha() or text[1] == "9"):
        return False
    digits = text[2:]
    return digits.isdigit() and dea_check_digit(digits[:6]) == ord(digits[6]) - 48
