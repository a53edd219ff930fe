"""Plausible things residents type, for simulated phones (demo and tests), in French and
English, chosen by a field's `data-sim` hint or its name. Written for Palabre."""

from __future__ import annotations

import random

SAMPLES: dict[str, dict[str, list[str]]] = {
    "fr": {
        "problem": [
            "Pas assez de places en crèche dans le quartier",
            "Les jeunes ne connaissent pas les métiers qui recrutent ici",
            "Le bus ne passe plus après 20 h",
            "Peu de lieux pour faire ses devoirs au calme",
            "Les personnes âgées se sentent seules",
            "Difficile de trouver un stage de troisième",
            "Les offres d'emploi ne sont pas affichées près de chez nous",
            "Trottoirs encombrés, poussettes et fauteuils ne passent pas",
            "Les parents ne savent pas à qui parler à l'école",
            "Trop de décrochage scolaire au collège",
        ],
        "idea": [
            "Un jardin partagé au pied des immeubles",
            "Un forum des métiers tenu par les habitants",
            "Une navette solidaire le soir",
            "Une salle d'étude ouverte le samedi",
            "Des parrains et marraines pour les stages",
            "Une boîte à livres dans chaque hall",
            "Un café des parents à l'école",
            "Une cartographie des offres d'emploi locales",
        ],
        "description": [
            "Avec l'aide des associations du quartier et de la mairie.",
            "On commence petit, sur une rue, puis on étend si ça marche.",
            "Les habitants s'en occupent à tour de rôle.",
        ],
        "need": ["Les jeunes manquent de contacts avec les entreprises du quartier."],
        "objective": ["Que chaque élève de troisième trouve un stage près de chez lui."],
        "place": ["La maison de quartier, le mercredi après-midi."],
        "budget": ["Environ 3 000 € la première année."],
        "partners": ["Le collège, la mission locale, deux associations de commerçants."],
        "skills": ["Animation, communication, un peu de gestion."],
        "name": ["Les Débrouillards", "Quartier Vivant", "Les Passerelles", "Cap Avenir"],
        "generic": ["Une proposition du quartier", "À discuter ensemble"],
    },
    "en": {
        "problem": [
            "Not enough childcare places in the area",
            "Young people don't know which local jobs are hiring",
            "No bus after 8 pm",
            "Few quiet places to do homework",
            "Older people feel isolated",
        ],
        "idea": [
            "A shared garden between the buildings",
            "A jobs fair run by residents",
            "An evening community shuttle",
            "A study room open on Saturdays",
        ],
        "description": ["With the help of local associations and the town hall."],
        "need": ["Young people lack contacts with local businesses."],
        "objective": ["Every pupil finds a work placement near home."],
        "place": ["The community centre, Wednesday afternoons."],
        "budget": ["About €3,000 in the first year."],
        "partners": ["The secondary school, the job centre, two local associations."],
        "skills": ["Facilitation, communication, some management."],
        "name": ["The Bridges", "Living Neighbourhood", "Next Step"],
        "generic": ["A proposal from the neighbourhood", "To discuss together"],
    },
}

_ALIASES = {"title": "idea", "text": "idea", "comment": "description", "team_name": "name"}


def sample(hint: str, lang: str, rng: random.Random) -> str:
    bank = SAMPLES.get(lang, SAMPLES["fr"])
    key = _ALIASES.get(hint, hint)
    choices = bank.get(key) or bank["generic"]
    text = rng.choice(choices)
    # Several phones post from the same bank: a suffix keeps ideas distinct, as people's are.
    return text if rng.random() < 0.5 else f"{text} ({rng.randint(2, 99)})"
