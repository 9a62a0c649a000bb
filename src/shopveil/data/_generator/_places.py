"""Where fabricated customers live: countries, cities, postcode, phone and address shapes.

Country names are spelled as Online Retail spells them (``EIRE``, ``United Kingdom``) so
generated orders join with the real data. The mix leans on the UK, as the retailer's
customers do (about 90% there), with a broader European base. Cities come with their
real postcode prefixes so that postcode and city agree, as quasi-identifiers do in life.
Patterns: ``#`` digit, ``?`` letter, ``%`` a district number 1–20.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["COUNTRIES", "ENGLISH_STREET_STEMS", "GLOBAL_DOMAINS", "Country"]


@dataclass(frozen=True)
class Country:
    """How people, addresses and phone numbers look in one country."""

    name: str
    weight: float
    locale: str  # the Faker person provider whose name lists we draw from
    cities: tuple[tuple[str, float, tuple[str, ...]], ...]  # (city, weight, postcode patterns)
    phones: tuple[str, ...]
    street: str  # "{n}" house number, "{name}" a street name, "{sfx}" a street type
    street_types: tuple[str, ...]
    domains: tuple[str, ...]  # local email providers, next to the global ones


_UK_CITIES = (
    ("London", 9.0, ("E% #??", "N% #??", "NW% #??", "SE% #??", "SW% #??", "W% #??")),
    ("Birmingham", 1.1, ("B% #??",)),
    ("Leeds", 0.8, ("LS% #??",)),
    ("Glasgow", 0.6, ("G% #??",)),
    ("Sheffield", 0.58, ("S% #??",)),
    ("Manchester", 0.55, ("M% #??",)),
    ("Liverpool", 0.5, ("L% #??",)),
    ("Edinburgh", 0.5, ("EH% #??",)),
    ("Bristol", 0.47, ("BS% #??",)),
    ("Coventry", 0.37, ("CV% #??",)),
    ("Cardiff", 0.36, ("CF% #??",)),
    ("Leicester", 0.35, ("LE% #??",)),
    ("Belfast", 0.34, ("BT% #??",)),
    ("Nottingham", 0.33, ("NG% #??",)),
    ("Newcastle upon Tyne", 0.3, ("NE% #??",)),
    ("Brighton", 0.29, ("BN% #??",)),
    ("Plymouth", 0.26, ("PL% #??",)),
    ("Derby", 0.26, ("DE% #??",)),
    ("Stoke-on-Trent", 0.26, ("ST% #??",)),
    ("Southampton", 0.25, ("SO% #??",)),
    ("Swansea", 0.24, ("SA% #??",)),
    ("Milton Keynes", 0.23, ("MK% #??",)),
    ("York", 0.2, ("YO% #??",)),
    ("Aberdeen", 0.2, ("AB% #??",)),
    ("Reading", 0.17, ("RG% #??",)),
    ("Oxford", 0.15, ("OX% #??",)),
    ("Norwich", 0.14, ("NR% #??",)),
    ("Cambridge", 0.14, ("CB% #??",)),
    ("Exeter", 0.13, ("EX% #??",)),
    ("Bath", 0.09, ("BA% #??",)),
)
_GLOBAL_EN = ("{n} {name} {sfx}", ("Road", "Street", "Lane", "Avenue", "Close", "Drive", "Way"))
_UK_DOMAINS = ("hotmail.co.uk", "yahoo.co.uk", "btinternet.com", "sky.com", "live.co.uk")

COUNTRIES: tuple[Country, ...] = (
    Country(
        "United Kingdom", 82.0, "en_GB", _UK_CITIES,
        ("07### ######", "07### ######", "+44 7### ######", "020 #### ####", "01### ######"),
        *_GLOBAL_EN, _UK_DOMAINS,
    ),
    Country(
        "Germany", 3.5, "de_DE",
        (
            ("Berlin", 3.6, ("1####",)), ("Hamburg", 1.8, ("2####",)),
            ("München", 1.5, ("8####",)), ("Köln", 1.1, ("50###", "51###")),
            ("Frankfurt am Main", 0.75, ("60###",)), ("Stuttgart", 0.63, ("70###",)),
            ("Düsseldorf", 0.62, ("40###",)), ("Leipzig", 0.6, ("04###",)),
            ("Dortmund", 0.59, ("44###",)), ("Bremen", 0.57, ("28###",)),
            ("Dresden", 0.55, ("01###",)), ("Hannover", 0.53, ("30###",)),
        ),
        ("+49 15# ########", "015# ########", "030 ########", "+49 89 ########"),
        "{name}{sfx} {n}", ("straße", "weg", "allee", "ring", "platz"),
        ("web.de", "gmx.de", "t-online.de", "gmx.net"),
    ),
    Country(
        "France", 3.2, "fr_FR",
        (
            ("Paris", 2.1, ("750##",)), ("Marseille", 0.87, ("130##",)),
            ("Lyon", 0.52, ("6900#",)), ("Toulouse", 0.49, ("310##",)),
            ("Nice", 0.34, ("060##",)), ("Nantes", 0.31, ("440##",)),
            ("Montpellier", 0.29, ("340##",)), ("Strasbourg", 0.28, ("670##",)),
            ("Bordeaux", 0.26, ("330##",)), ("Lille", 0.23, ("590##",)),
        ),
        ("06 ## ## ## ##", "+33 6 ## ## ## ##", "07 ## ## ## ##", "01 ## ## ## ##"),
        "{n} {sfx} {name}", ("rue", "rue", "avenue", "boulevard", "allée", "place"),
        ("orange.fr", "free.fr", "laposte.net", "sfr.fr", "wanadoo.fr"),
    ),
    Country(
        "EIRE", 1.5, "en_IE",
        (
            ("Dublin", 1.2, ("D0# ?#?#", "D1# ?#?#")), ("Cork", 0.21, ("T12 ?#?#",)),
            ("Limerick", 0.1, ("V94 ?#?#",)), ("Galway", 0.08, ("H91 ?#?#",)),
            ("Waterford", 0.05, ("X91 ?#?#",)),
        ),
        ("08# ### ####", "+353 8# ### ####", "01 ### ####"),
        *_GLOBAL_EN, ("eircom.net", "hotmail.co.uk", "yahoo.ie"),
    ),
    Country(
        "Spain", 1.2, "es_ES",
        (
            ("Madrid", 3.3, ("28###",)), ("Barcelona", 1.6, ("08###",)),
            ("Valencia", 0.8, ("46###",)), ("Sevilla", 0.69, ("41###",)),
            ("Zaragoza", 0.67, ("50###",)), ("Málaga", 0.58, ("29###",)),
            ("Bilbao", 0.35, ("48###",)),
        ),
        ("6## ## ## ##", "+34 6## ### ###", "91# ### ###"),
        "{sfx} {name}, {n}", ("Calle", "Calle", "Avenida", "Paseo", "Plaza"),
        ("telefonica.net", "yahoo.es", "hotmail.es"),
    ),
    Country(
        "Netherlands", 1.0, "nl_NL",
        (
            ("Amsterdam", 0.87, ("10## ??",)), ("Rotterdam", 0.65, ("30## ??",)),
            ("Den Haag", 0.55, ("25## ??",)), ("Utrecht", 0.36, ("35## ??",)),
            ("Eindhoven", 0.23, ("56## ??",)), ("Groningen", 0.23, ("97## ??",)),
        ),
        ("06-########", "+31 6 ########", "020 ### ####"),
        "{name}{sfx} {n}", ("straat", "laan", "weg", "plein", "gracht"),
        ("ziggo.nl", "kpnmail.nl", "hetnet.nl"),
    ),
    Country(
        "Belgium", 1.0, "nl_BE",
        (
            ("Brussel", 1.2, ("1###",)), ("Antwerpen", 0.53, ("2###",)),
            ("Gent", 0.26, ("9###",)), ("Charleroi", 0.2, ("6###",)),
            ("Liège", 0.2, ("4###",)), ("Brugge", 0.12, ("8###",)),
        ),
        ("04## ## ## ##", "+32 4## ## ## ##", "02 ### ## ##"),
        "{name}{sfx} {n}", ("straat", "laan", "steenweg", "plein"),
        ("skynet.be", "telenet.be"),
    ),
    Country(
        "Switzerland", 0.8, "de_CH",
        (
            ("Zürich", 0.42, ("80##",)), ("Genève", 0.2, ("12##",)),
            ("Basel", 0.17, ("40##",)), ("Lausanne", 0.14, ("10##",)),
            ("Bern", 0.13, ("30##",)),
        ),
        ("07# ### ## ##", "+41 7# ### ## ##", "044 ### ## ##"),
        "{name}{sfx} {n}", ("strasse", "weg", "gasse", "platz"),
        ("bluewin.ch", "gmx.ch"),
    ),
    Country(
        "Portugal", 0.7, "pt_PT",
        (
            ("Lisboa", 0.5, ("1###-###",)), ("Porto", 0.23, ("4###-###",)),
            ("Braga", 0.18, ("47##-###",)), ("Coimbra", 0.14, ("30##-###",)),
            ("Faro", 0.06, ("80##-###",)),
        ),
        ("9## ### ###", "+351 9## ### ###"),
        "{sfx} {name}, {n}", ("Rua", "Rua", "Avenida", "Travessa"),
        ("sapo.pt",),
    ),
    Country(
        "Italy", 0.6, "it_IT",
        (
            ("Roma", 2.8, ("001##",)), ("Milano", 1.4, ("201##",)),
            ("Napoli", 0.96, ("801##",)), ("Torino", 0.87, ("101##",)),
            ("Palermo", 0.66, ("901##",)), ("Bologna", 0.39, ("401##",)),
            ("Firenze", 0.38, ("501##",)),
        ),
        ("3## ### ####", "+39 3## ### ####"),
        "{sfx} {name} {n}", ("Via", "Via", "Viale", "Piazza", "Corso"),
        ("libero.it", "virgilio.it", "alice.it"),
    ),
    Country(
        "Norway", 0.5, "no_NO",
        (
            ("Oslo", 0.7, ("0###",)), ("Bergen", 0.28, ("5###",)),
            ("Trondheim", 0.2, ("7###",)), ("Stavanger", 0.14, ("40##",)),
        ),
        ("4## ## ###", "+47 ### ## ###"),
        "{name}{sfx} {n}", ("veien", "gata", "gate"),
        ("online.no",),
    ),
    Country(
        "Australia", 0.5, "en_NZ",
        (
            ("Sydney", 5.3, ("2###",)), ("Melbourne", 5.0, ("3###",)),
            ("Brisbane", 2.5, ("4###",)), ("Perth", 2.1, ("6###",)),
            ("Adelaide", 1.3, ("5###",)),
        ),
        ("04## ### ###", "+61 4## ### ###"),
        "{n} {name} {sfx}", ("Street", "Road", "Avenue", "Parade", "Crescent"),
        ("bigpond.com", "optusnet.com.au"),
    ),
    Country(
        "Sweden", 0.5, "sv_SE",
        (
            ("Stockholm", 0.98, ("1## ##",)), ("Göteborg", 0.58, ("4## ##",)),
            ("Malmö", 0.35, ("2## ##",)), ("Uppsala", 0.23, ("75# ##",)),
        ),
        ("07#-### ## ##", "+46 7# ### ## ##"),
        "{name}{sfx} {n}", ("gatan", "vägen"),
        ("telia.com",),
    ),
    Country(
        "Austria", 0.5, "de_AT",
        (
            ("Wien", 1.9, ("1###",)), ("Graz", 0.29, ("8###",)),
            ("Linz", 0.2, ("4###",)), ("Salzburg", 0.15, ("50##",)),
            ("Innsbruck", 0.13, ("60##",)),
        ),
        ("06## #######", "+43 6## #######"),
        "{name}{sfx} {n}", ("gasse", "straße", "weg", "platz"),
        ("aon.at", "gmx.at"),
    ),
    Country(
        "Denmark", 0.4, "da_DK",
        (
            ("København", 0.64, ("1###", "2###")), ("Aarhus", 0.28, ("8###",)),
            ("Odense", 0.18, ("5###",)), ("Aalborg", 0.12, ("9###",)),
        ),
        ("## ## ## ##", "+45 ## ## ## ##"),
        "{name}{sfx} {n}", ("gade", "vej", "allé"),
        ("jubii.dk",),
    ),
    Country(
        "Finland", 0.4, "fi_FI",
        (
            ("Helsinki", 0.65, ("00###",)), ("Espoo", 0.29, ("02###",)),
            ("Tampere", 0.24, ("33###",)), ("Turku", 0.19, ("20###",)),
        ),
        ("04# ### ####", "+358 4# ### ####"),
        "{name}{sfx} {n}", ("katu", "tie"),
        ("luukku.com",),
    ),
)  # fmt: skip

GLOBAL_DOMAINS = ("gmail.com", "hotmail.com", "outlook.com", "yahoo.com", "icloud.com")
"""Webmail providers used everywhere; each country adds its local ones."""

ENGLISH_STREET_STEMS = (
    "Church", "Station", "High", "Park", "Victoria", "Mill", "Green", "Manor", "King's",
    "Queen's", "School", "Albert", "North", "South", "West", "Orchard", "Meadow", "Chapel",
)  # fmt: skip
"""Common English street names, mixed with surnames so streets read like real ones."""
