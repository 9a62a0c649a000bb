"""FF3-1 format-preserving encryption: NIST vectors, round trips, formats and bad input."""

from __future__ import annotations

import string

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shopveil._core.operators import OperatorContext
from shopveil.errors import AccessDenied, ParameterError, SchemaError
from shopveil.keys import Keyring, VaultConfig
from shopveil.pseudo import FormatPreservingEncrypt, luhn_valid
from shopveil.pseudo._ff3 import FF3Key, length_limits

_K128 = "EF4359D8D580AA4F7F036D6F04FC6A94"
_K192 = _K128 + "2B7E151628AED2A6"
_K256 = _K192 + "ABF7158809CF4F3C"
_PT18, _PT29 = "890121234567890000", "89012123456789000000789000000"
_PT26 = "0123456789abcdefghi"

# NIST's FF3 samples (csrc.nist.gov, FF3samples.pdf): 64-bit tweaks, the original FF3
# split. They check the Feistel rounds, the reversals and both arithmetic paths.
NIST_FF3 = [
    (10, _K128, "D8E7920AFA330A73", _PT18, "750918814058654607"),
    (10, _K128, "9A768A92F60E12D8", _PT18, "018989839189395384"),
    (10, _K128, "D8E7920AFA330A73", _PT29, "48598367162252569629397416226"),
    (10, _K128, "0000000000000000", _PT29, "34695224821734535122613701434"),
    (26, _K128, "9A768A92F60E12D8", _PT26, "g2pk40i992fn20cjakb"),
    (10, _K192, "D8E7920AFA330A73", _PT18, "646965393875028755"),
    (10, _K192, "0000000000000000", _PT29, "98083802678820389295041483512"),
    (26, _K192, "9A768A92F60E12D8", _PT26, "i0ihe2jfj7a9opf9p88"),
    (10, _K256, "D8E7920AFA330A73", _PT18, "922011205562777495"),
    (10, _K256, "D8E7920AFA330A73", _PT29, "04344343235792599165734622699"),
    (26, _K256, "9A768A92F60E12D8", _PT26, "p0b2godfja9bhb7bk38"),
]

_B64 = string.digits + string.ascii_uppercase + string.ascii_lowercase + "+/"
# NIST ACVP FF3-1 vectors (56-bit tweaks), as published with the `ff3` package's tests.
ACVP_FF3_1 = [
    (
        string.digits,
        "2DE79D232DF5585D68CE47882AE256D6",
        "CBD09280979564",
        "3992520240",
        "8901801106",
    ),
    (
        string.digits,
        "01C63017111438F7FC8E24EB16C71AB5",
        "C4E822DCD09F27",
        "60761757463116869318437658042297305934914824457484538562",
        "35637144092473838892796702739628394376915177448290847293",
    ),
    (
        string.ascii_lowercase,
        "718385E6542534604419E83CE387A437",
        "B6F35084FA90E1",
        "wfmwlrorcd",
        "ywowehycyd",
    ),
    (
        string.ascii_lowercase,
        "DB602DFF22ED7E84C8D8C865A941A238",
        "EBEFD63BCC2083",
        "kkuomenbzqvggfbteqdyanwpmhzdmoicekiihkrm",
        "belcfahcwwytwrckieymthabgjjfkxtxauipmjja",
    ),
    (_B64, "AEE87D0D485B3AFD12BD1E0B9D03D50D", "5F9140601D224B", "ixvuuIHr0e", "GR90R1q838"),
    (
        _B64,
        "7B6C88324732F7F4AD435DA9AD77F917",
        "3F42102C0BAB39",
        "21q1kbbIVSrAFtdFWzdMeIDpRqpo",
        "cvQ/4aGUV4wRnyO3CHmgEKW5hk8H",
    ),
    (
        string.digits,
        "F62EDB777A671075D47563F3A1E9AC797AA706A2D8E02FC8",
        "493B8451BF6716",
        "4406616808",
        "1807744762",
    ),
    (
        string.ascii_lowercase,
        "49CCB8F62D941E5684599ECA0300937B5C766D053E109777",
        "0BFCF75CDC2FC1",
        "jaxlrchjjx",
        "kjdbfqyahd",
    ),
    (
        _B64,
        "1C24B74B7C1B9969314CB53E92F98EFD620D5520017FB076",
        "0380341C425A6F",
        "6np8r2t8zo",
        "HgpCXoA1Rt",
    ),
]


def _digits(text: str, alphabet: str) -> np.ndarray:
    return np.array([[alphabet.index(c) for c in text]])


def _text(digits: np.ndarray, alphabet: str) -> str:
    return "".join(alphabet[int(d)] for d in digits[0])


@pytest.mark.parametrize(("radix", "key", "tweak", "plain", "cipher"), NIST_FF3)
def test_nist_ff3_samples(radix: int, key: str, tweak: str, plain: str, cipher: str) -> None:
    alphabet = (string.digits + string.ascii_lowercase)[:radix]
    ff3 = FF3Key(bytes.fromhex(key), bytes.fromhex(tweak), radix)
    assert _text(ff3.encrypt(_digits(plain, alphabet)), alphabet) == cipher
    assert _text(ff3.decrypt(_digits(cipher, alphabet)), alphabet) == plain


@pytest.mark.parametrize(("alphabet", "key", "tweak", "plain", "cipher"), ACVP_FF3_1)
def test_acvp_ff3_1_vectors(alphabet: str, key: str, tweak: str, plain: str, cipher: str) -> None:
    ff3 = FF3Key(bytes.fromhex(key), bytes.fromhex(tweak), len(alphabet))
    assert _text(ff3.encrypt(_digits(plain, alphabet)), alphabet) == cipher
    assert _text(ff3.decrypt(_digits(cipher, alphabet)), alphabet) == plain


# Fewer examples: each example runs FF3-1 rounds in pure Python.
@settings(max_examples=30)
@given(
    key=st.binary(min_size=16, max_size=16),
    tweak=st.binary(min_size=7, max_size=7),
    rows=st.lists(st.text(string.digits, min_size=12, max_size=12), min_size=1, max_size=20),
)
def test_agrees_with_the_ff3_package(key: bytes, tweak: bytes, rows: list[str]) -> None:
    ff3 = pytest.importorskip("ff3")
    theirs = ff3.FF3Cipher(key.hex(), tweak.hex())
    ours = FF3Key(key, tweak, 10)
    encrypted = ours.encrypt(np.array([[int(c) for c in r] for r in rows]))
    assert ["".join(map(str, e)) for e in encrypted] == [theirs.encrypt(r) for r in rows]


def test_length_limits_follow_the_standard() -> None:
    assert length_limits(10) == (6, 56)
    assert length_limits(26) == (5, 40)
    assert length_limits(64) == (4, 32)
    with pytest.raises(ParameterError, match="6 to 56"):
        FF3Key(b"k" * 16, b"t" * 7, 10).encrypt(np.zeros((1, 5), dtype=np.int64))


def ctx(keyring: Keyring, column: str = "card", purpose: str = "fulfilment") -> OperatorContext:
    return OperatorContext(purpose=purpose, column=column, keys=keyring)


cards = st.text(string.digits, min_size=6, max_size=19)
layouts = st.lists(st.sampled_from([" ", "-", "+", "(", ")"]), max_size=4)


@given(values=st.lists(st.one_of(st.none(), cards), min_size=1, max_size=30))
def test_round_trip_keeps_length_digits_and_nulls(keyring: Keyring, values: list) -> None:
    fpe = FormatPreservingEncrypt()
    array = pa.array(values, pa.string())
    encrypted = fpe.apply(array, ctx(keyring))
    assert fpe.decrypt(encrypted, ctx(keyring)).equals(array)
    for before, after in zip(values, encrypted.to_pylist(), strict=True):
        assert (before is None) == (after is None)
        if before is not None:
            assert len(after) == len(before) and after.isdigit()


@given(digits=st.text(string.digits, min_size=8, max_size=16), seps=layouts)
def test_layout_characters_stay_in_place(keyring: Keyring, digits: str, seps: list) -> None:
    value = "".join(seps) + digits[:4] + " " + digits[4:]
    out = FormatPreservingEncrypt().apply(pa.array([value]), ctx(keyring)).to_pylist()[0]
    assert [c for c in out if not c.isdigit()] == [c for c in value if not c.isdigit()]
    assert [i for i, c in enumerate(out) if c.isdigit()] == [
        i for i, c in enumerate(value) if c.isdigit()
    ]


def _with_luhn(payload: str) -> str:
    digits = np.array([[int(c) for c in payload + "0"]])
    for check in range(10):
        digits[0, -1] = check
        if luhn_valid(digits)[0]:
            return payload + str(check)
    raise AssertionError("no check digit")


@given(payloads=st.lists(st.text(string.digits, min_size=15, max_size=15), min_size=1, max_size=20))
def test_cards_stay_valid_luhn_cards(keyring: Keyring, payloads: list[str]) -> None:
    numbers = pa.array([_with_luhn(p) for p in payloads])
    fpe = FormatPreservingEncrypt(luhn=True, keep_first=1)
    out = fpe.apply(numbers, ctx(keyring))
    digits = np.array([[int(c) for c in v] for v in out.to_pylist()])
    assert luhn_valid(digits).all()
    assert [v[0] for v in out.to_pylist()] == [v[0] for v in numbers.to_pylist()]  # kept
    assert fpe.decrypt(out, ctx(keyring)).equals(numbers)


def test_consistent_within_a_purpose_different_across(keyring: Keyring) -> None:
    values = pa.array(["4341636520529398", "4341636520529398"])
    fpe = FormatPreservingEncrypt()
    a = fpe.apply(values, ctx(keyring)).to_pylist()
    b = fpe.apply(values, ctx(keyring, purpose="support")).to_pylist()
    assert a[0] == a[1] != b[0]
    assert a[0] != values[0].as_py()


def test_phone_keeps_its_country_code(keyring: Keyring) -> None:
    out = FormatPreservingEncrypt(keep_first=2).apply(pa.array(["+44 7700 900123"]), ctx(keyring))
    assert out[0].as_py().startswith("+44 ") and len(out[0].as_py()) == 15


def test_order_ids_keep_their_shape(keyring: Keyring) -> None:
    fpe = FormatPreservingEncrypt(passthrough="C-")
    out = fpe.apply(pa.array(["C536379", "536365"]), ctx(keyring, "order_id")).to_pylist()
    assert out[0].startswith("C") and out[0][1:].isdigit() and len(out[0]) == 7
    assert out[1].isdigit() and len(out[1]) == 6


@pytest.mark.parametrize(
    ("values", "params", "message"),
    [
        (["4341 6365 2052 939X"], {}, "outside the FPE alphabet"),  # a letter in a card
        (["12345"], {}, "FF3-1 needs 6 to 56"),  # too short to encrypt safely
        (["4341636520529399"], {"luhn": True}, "fail the Luhn check"),
        (["1234567"], {"keep_first": 2}, "FF3-1 needs 6"),
    ],
)
def test_bad_values_are_refused_without_echoing_them(
    keyring: Keyring, values: list, params: dict, message: str
) -> None:
    with pytest.raises(SchemaError, match=message) as info:
        FormatPreservingEncrypt(**params).apply(pa.array(values), ctx(keyring))
    assert values[0] not in str(info.value)


def test_empty_strings_stay_empty(keyring: Keyring) -> None:
    out = FormatPreservingEncrypt().apply(pa.array(["", None, "123456"]), ctx(keyring))
    assert out.to_pylist()[:2] == ["", None]


def test_integers_are_encrypted_as_text(keyring: Keyring) -> None:
    out = FormatPreservingEncrypt().apply(pa.array([12345678, None]), ctx(keyring)).to_pylist()
    assert len(out[0]) == 8 and out[1] is None


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"alphabet": "0"}, "2 to 65536"),
        ({"alphabet": "0012"}, "distinct"),
        ({"passthrough": "0"}, "passthrough"),
        ({"luhn": True, "alphabet": "abcdef"}, "luhn"),
        ({"keep_first": -1}, "keep_first"),
        ({"version": 0}, "version"),
    ],
)
def test_bad_parameters_name_the_parameter(params: dict, message: str) -> None:
    with pytest.raises(ParameterError, match=message):
        FormatPreservingEncrypt(**params)


GREEK = "αβγδεζηθικλμνξοπρστυφχψω"


# Fewer examples: each example runs FF3-1 rounds in pure Python.
@settings(max_examples=30)
@given(values=st.lists(st.text(GREEK, min_size=5, max_size=12), min_size=1, max_size=20))
def test_any_unicode_alphabet_round_trips(keyring: Keyring, values: list[str]) -> None:
    fpe = FormatPreservingEncrypt(alphabet=GREEK, passthrough="")
    out = fpe.apply(pa.array(values), ctx(keyring, "code"))
    assert all(
        len(a) == len(b) and set(a) <= set(GREEK)
        for a, b in zip(out.to_pylist(), values, strict=True)
    )
    assert fpe.decrypt(out, ctx(keyring, "code")).to_pylist() == values


def test_decrypt_follows_the_vaults_rule_on_who_may_reidentify(keyring: Keyring) -> None:
    fpe = FormatPreservingEncrypt()
    cards = pa.array(["4111111111111111"])
    encrypted = fpe.apply(cards, ctx(keyring, purpose="marketing"))
    # The attack: a purpose that may not detokenize vault tokens decrypts FPE instead.
    with pytest.raises(AccessDenied, match="purpose 'marketing' may not re-identify"):
        fpe.decrypt(encrypted, ctx(keyring, purpose="marketing"))
    for purpose in VaultConfig().reidentify_purposes:
        mine = fpe.apply(cards, ctx(keyring, purpose=purpose))
        assert fpe.decrypt(mine, ctx(keyring, purpose=purpose)).equals(cards)
    # One configuration of the rule serves both: a custom set is honoured the same way.
    allowed = VaultConfig(reidentify_purposes=frozenset({"marketing"})).reidentify_purposes
    assert fpe.decrypt(
        encrypted, ctx(keyring, purpose="marketing"), reidentify_purposes=allowed
    ).equals(cards)
    with pytest.raises(AccessDenied):
        fpe.decrypt(fpe.apply(cards, ctx(keyring)), ctx(keyring), reidentify_purposes=allowed)
