"""clinical/language.py: which messages the assistant cannot read, and so answers with the notice that
names the emergency number and the crisis line. Examples written for this test, not from any round."""

from __future__ import annotations

import pytest

from clinical.language import other_language, readable


@pytest.mark.parametrize(
    "text",
    [
        "我的膝盖肿得很厉害，不能走路",
        "Колено сильно распухло после падения",
        "घुटने में बहुत दर्द है और सूजन है",
    ],
)
def test_another_script_is_not_read(text):
    assert not readable(text)


@pytest.mark.parametrize(
    "text",
    [
        "Mein Knie ist seit heute Morgen stark geschwollen und ich kann nicht mehr laufen",
        "Mon genou est tout gonflé depuis ce matin et je ne peux plus marcher du tout",
        "Dizim bu sabahtan beri çok şişti ve hiç yürüyemiyorum, ne yapmalıyım",
        "Goti langu limevimba sana tangu asubuhi na siwezi kutembea kabisa",  # Swahili (or Xhosa, says the model)
    ],
)
def test_another_language_in_latin_letters_is_recognised(text):
    assert other_language(text) not in (None, "en", "es", "pt")


def test_the_language_is_named():
    assert other_language("Mein Knie ist seit heute Morgen stark geschwollen und ich kann nicht mehr laufen") == "de"


@pytest.mark.parametrize(
    "text",
    [
        # English, however it is typed
        "my knee is swollen and hot since this morning and i cant walk on it",
        "wats cartilage do",
        "sciatica help pls",
        "ngl my knee lowkey been killing me fr since the game yday",
        "mi knee very pain since 2 day, doctor say arthritis, how much for injection",
        "Mama fell in the bathroom and she can't put no weight on that leg",
        # the Spanish and Portuguese the lexicons know
        "Me caí por la escalera y no puedo apoyar la pierna, la rodilla está muy hinchada",
        "Minha mãe caiu e o joelho está muito inchado, ela não consegue andar",
        "qué son las células madre",
        # too short to say
        "merci beaucoup",
        "danke",
    ],
)
def test_english_spanish_portuguese_and_short_messages_are_read(text):
    assert other_language(text) is None
