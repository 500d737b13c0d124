"""Regular expressions for the pattern entities, in the Rust regex dialect Polars runs vectorized.

``FULL`` patterns decide whether a whole cell *is* an entity (structured
columns); ``SPAN`` patterns find entities *inside* free text for the
"contains" rates and for redaction. Checksums (Luhn, mod-97, SSN rules) are
applied afterwards on the de-duplicated candidates only.
"""

from __future__ import annotations

_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
_IPV4 = rf"{_OCTET}(?:\.{_OCTET}){{3}}"
_IPV6 = r"(?:[0-9A-Fa-f]{1,4}:){7}[0-9A-Fa-f]{1,4}|(?:[0-9A-Fa-f]{1,4}:){1,7}:|(?:[0-9A-Fa-f]{1,4}:){1,6}:[0-9A-Fa-f]{1,4}|::(?:[0-9A-Fa-f]{1,4}:){0,5}[0-9A-Fa-f]{1,4}|(?:[0-9A-Fa-f]{1,4}:){1,5}(?::[0-9A-Fa-f]{1,4}){1,2}|(?:[0-9A-Fa-f]{1,4}:){1,4}(?::[0-9A-Fa-f]{1,4}){1,3}"  # noqa: E501
_EMAIL = r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,24}"
_SSN = r"\d{3}-\d{2}-\d{4}"
_CARD = r"\d{4}[ \-]?\d{4}[ \-]?\d{4}(?:[ \-]?\d{1,7})?|\d{4}[ \-]\d{6}[ \-]\d{4,5}"
_IBAN = r"[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?"
# A phone number: optional +/00 country prefix, digits in groups separated by
# space, dot, dash or parentheses, optional extension.
_PHONE = r"(?:\+|00)?\(?\d{1,4}\)?(?:[ .\-]?\(?\d{1,5}\)?){1,6}(?: ?(?:x|ext\.?) ?\d{1,5})?"

FULL: dict[str, str] = {
    # A bare address, or a contact as exports write it: ``Jane Doe <jane@x.com>``.
    "EMAIL_ADDRESS": rf"^(?:mailto:)?{_EMAIL}$|^[^<>@]{{1,100}}<(?:mailto:)?{_EMAIL}>$",
    "US_SSN": rf"^(?:{_SSN}|\d{{3}} \d{{2}} \d{{4}})$",
    "CREDIT_CARD": rf"^(?:{_CARD})$",
    "IBAN_CODE": rf"^{_IBAN}$",
    "IP_ADDRESS": rf"^(?:{_IPV4}|{_IPV6})$",
    "PHONE_NUMBER": rf"^{_PHONE}$",
}

SPAN: dict[str, str] = {
    "EMAIL_ADDRESS": _EMAIL,
    "US_SSN": rf"\b{_SSN}\b",
    "CREDIT_CARD": rf"\b(?:{_CARD})\b",
    "IBAN_CODE": rf"\b{_IBAN}\b",
    "IP_ADDRESS": rf"\b{_IPV4}\b",
    "PHONE_NUMBER": (
        r"(?:(?:\+|\b00)\d{1,3}[ .\-]?)?(?:\(\d{2,4}\)[ .\-]?|\b\d{3}[ .\-])\d{2,4}[ .\-]\d{2,5}"
        r"(?:\s?(?:x|ext\.?)\s?\d{1,5})?\b"
        r"|\+\d{1,3}[ ]?(?:\(0\)[ ]?)?\d[\d ]{6,13}\d\b"
        r"|\(0\d{2,4}\)[ ]?\d{5,8}\b"
        r"|\b0\d{2,4}[ .\-/]?\d{5,8}\b"
        r"|\b0\d{2,4}[ .\-/]\d{3,4}[ .\-]?\d{3,5}\b"
        r"|\b0\d(?:[ .\-]\d{2}){4}\b"
    ),
}

# Values that look like phone numbers but are dates or times.
DATE_LIKE = (
    r"^(?:\d{4}[./\-]\d{1,2}[./\-]\d{1,2}|\d{1,2}[./\-]\d{1,2}[./\-]\d{2,4}"
    # ... and with a month name in any language: 11SEP1982, 11 Sep 1982, 3. März 1990, 22-mar-85
    r"|\d{1,2}\.?[ \-/]?\p{L}{3,10}\.?[ \-/]?\d{2,4})(?:[ T].*)?$"
)

# Digit groups in a phone number: international prefix, parentheses or at least three groups.
PHONE_SHAPE = r"^(?:\+|00|\(|.*\d[ .\-]\d+[ .\-]\d)"

UUID = r"^[0-9A-Fa-f]{8}-?[0-9A-Fa-f]{4}-?[0-9A-Fa-f]{4}-?[0-9A-Fa-f]{4}-?[0-9A-Fa-f]{12}$"
# Hex digests of MD5, SHA-1, SHA-256 and SHA-512.
HEX_HASH = r"^(?:0x)?(?:[0-9A-Fa-f]{32}|[0-9A-Fa-f]{40}|[0-9A-Fa-f]{64}|[0-9A-Fa-f]{128})$"

# A street address: a house number next to a street word, or a number, words and a postal code.
STREET_WORDS = (
    r"street|st|avenue|ave|road|rd|lane|ln|drive|dr|boulevard|blvd|way|court|ct|place|pl|square|sq|"
    r"terrace|parkway|pkwy|highway|hwy|circle|suite|apt|unit|straße|strasse|str|weg|gasse|platz|allee|"
    r"ring|damm|ufer|rue|chemin|impasse|allée|quai|cours|gate|gata|gaten|veien|vei|veg|vegen|plass|"
    r"calle|avenida|plaza|paseo|camino|carrer|cañada|urbanización|ronda|travesía|glorieta|via|viale|piazza|"
    r"corso|vicolo|borgo|contrada|strada|stretto|largo|rotonda|straat|laan|plein|weg|kade|gracht|singel|"
    r"ulica|ul|aleja|al|plac|pl|osiedle|os|rua|travessa|praça|alameda|estrada|beco|rotunda|"
    r"vägen|gatan|gränd|stigen|backen|torget|allén|tie|katu|kuja|polku|kaari|rinne|väylä|ranta|"
    r"tunet|høgda|bakken|stien|lia|haugen|åsen|jordet|svingen|plassen|ringen|brekka|grenda|kroken|løkka|"
    r"vollen|moen|berget|myra|engen|marka|vika|lunden|dalen|toppen|kollen|bråten|hagen|gården|sletta|"
    r"pad|steeg|baan|dreef|hof|dijk|markt|bulevardi|puistikko|raitti|tori|aukio|acceso|pasaje|pasadizo|"
    r"carretera|callejón|incrocio"
)
# Words that open a street name in Romance and Polish addresses, with or without a house number.
START_WORDS = (
    r"rue|avenue|boulevard|chemin|impasse|allée|place|quai|calle|avenida|plaza|paseo|camino|acceso|pasaje|"
    r"pasadizo|via|viale|piazza|corso|vicolo|incrocio|rua|travessa|praça|av\.?|r\.|ulica|ul\.|aleja|al\.|"
    r"plac|pl\.|osiedle"
)
# USPS street suffixes, recognised after a leading house number only (``067 Summer Ranch``).
US_SUFFIXES = (
    r"alley|bend|bluffs?|branch|bridge|brook|burgs?|bypass|camp|canyon|cape|causeway|centers?|cliffs?|club|"
    r"commons?|corners?|course|courts|coves?|creek|crescent|crest|crossing|crossroad|curve|dale|dam|divide|"
    r"drives|estates?|expressway|extensions?|falls?|ferry|fields?|flats?|fords?|forest|forges?|forks?|fort|"
    r"freeway|gardens?|gateway|glens?|greens?|groves?|harbors?|haven|heights|hills?|hollow|inlet|island|isle|"
    r"junctions?|keys?|knolls?|lakes?|landing|lights?|loaf|locks?|lodge|loop|mall|manors?|meadows?|mews|mills?|"
    r"mission|motorway|mount|mountains?|neck|orchard|oval|overpass|parks?|pass|passage|path|pike|pines?|"
    r"plains?|plaza|points?|ports?|prairie|radial|ramp|ranch|rapids?|rest|ridges?|river|roads|route|row|run|"
    r"shoals?|shores?|skyway|springs?|spurs?|squares|station|stravenue|stream|streets|summit|throughway|"
    r"trace|track|trafficway|trail|tunnel|turnpike|underpass|unions?|valleys?|viaduct|views?|villages?|ville|"
    r"vista|walks?|wall|ways|wells?"
)
ADDRESS = (
    rf"(?i)(?:^|[\s,])\d{{1,5}}[a-z]?,?\s+(?:[\p{{L}}'.\-]+\s+){{0,4}}(?:{STREET_WORDS}|{US_SUFFIXES})\b"
    rf"|\b(?:{STREET_WORDS})\.?\s+\d{{1,5}}[a-z]?\b"
    rf"|\p{{L}}(?:{STREET_WORDS})\.?\s+\d{{1,5}}[a-z]?\b"
    rf"|(?:^|\s)(?:{STREET_WORDS})\.?\s[\p{{L}}\s'\-,]+\d{{1,5}}"
    r"|\d{1,5}[a-z]?\s+[\p{L}\s'.\-]+[,\n]\s*(?:[A-Z]{1,2}-?)?\d{4,5}\s+\p{L}"
    # A compound street name ending in a street word, then a house number: Aspvägen 69, Disantie 5.
    rf"|\p{{L}}{{2,}}(?:{STREET_WORDS}),?\s+\d{{1,5}}[a-z]?\b"
    rf"|^\s*(?:{START_WORDS})\s+(?:d[aeo]s?\s+|de\s+la\s+|del\s+)?\p{{Lu}}"
)
# ISBN-13 and ISBN-10 with hyphens or spaces (not phone numbers when their checksum holds).
ISBN = r"^(?:97[89][- ])?\d{1,5}[- ]\d{1,7}[- ]\d{1,7}[- ][\dX]$"
# IPv4-shaped version strings (2.3.9.7): every part small.
VERSION_LIKE = r"^(?:[0-2]?\d|3[01])(?:\.(?:[0-2]?\d|3[01])){3}$"
