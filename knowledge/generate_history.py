"""Writes knowledge/history.jsonl: the sample brand's community history (deterministic, seed 7).

The people, topics and sentences were written for this project. Re-run after editing:
    python knowledge/generate_history.py
"""

from __future__ import annotations

import json
import random
from datetime import datetime, timedelta, timezone
from pathlib import Path

OUT = Path(__file__).with_name("history.jsonl")
START = datetime(2026, 9, 14, 8, 0, tzinfo=timezone.utc)  # a Monday; ten weeks of history
WEEKS = 10
BASE_URL = "https://communaute.rouelibre.example/m/"

STAFF = [("claire", "Claire (Roue Libre)"), ("malik", "Malik (atelier Roue Libre)")]
BOT = ("rouebot", "RoueBot")
HELPERS = [("jeanne", "Jeanne"), ("sam", "Sam"), ("theo", "Théo"), ("ines", "Inès")]
REGULARS = [("lucie", "Lucie"), ("karim", "Karim"), ("paul", "Paul"), ("nora", "Nora"), ("hugo", "Hugo"),
            ("amelie", "Amélie"), ("yann", "Yann"), ("sofia", "Sofia")]
QUIET = [("bruno", "Bruno"), ("chloe", "Chloé"), ("denis", "Denis"), ("eva", "Eva")]
ENGLISH = [("tom", "Tom"), ("emily", "Emily")]
PROMOTER = ("max_deals", "VeloDeals_Max")
NEWCOMERS = [("leo", "Léo"), ("manon", "Manon"), ("rayan", "Rayan"), ("julie", "Julie"), ("adam", "Adam"),
             ("camille", "Camille"), ("nathan", "Nathan"), ("ambre", "Ambre"), ("ines_b", "Inès B."), ("gabin", "Gabin")]

TOPICS = {
    "chaîne": (["Ma chaîne saute sur les petits pignons dès que j'appuie fort, une idée ?",
                "La chaîne déraille quand je passe sur le grand plateau, c'est normal ?",
                "Comment savoir si ma chaîne est usée ? Elle fait un bruit de crécelle."],
               ["Mesure l'allongement avec un contrôleur d'usure : au-delà de 0,75 % on change la chaîne, sinon elle use la cassette.",
                "Souvent c'est la patte de dérailleur un peu tordue. Vérifie l'alignement avant de toucher aux vis de butée.",
                "Nettoie et lubrifie d'abord, puis règle la tension du câble d'un quart de tour à la molette."]),
    "crevaison": (["Troisième crevaison ce mois-ci sur la roue arrière, je fais quoi de travers ?",
                   "Vous utilisez quoi comme rustine pour réparer au bord de la route ?",
                   "Mon pneu tubeless perd de l'air la nuit, le liquide est sec ?"],
                  ["Passe les doigts à l'intérieur du pneu : il reste souvent un petit silex planté qui recrève la chambre.",
                   "Des rustines autocollantes pour dépanner, mais à la maison une rustine classique avec dissolution tient mieux.",
                   "Le préventif sèche en 3 à 6 mois ; secoue la roue et écoute, s'il ne clapote plus il faut en remettre."]),
    "freins": (["Mes freins à disque couinent sous la pluie, c'est grave ?",
                "Le levier de frein arrière va presque jusqu'au guidon, comment retendre ?",
                "Patins ou disques pour un vélo de ville utilisé tous les jours ?"],
               ["Nettoie le disque à l'alcool isopropylique et ponce légèrement les plaquettes : le couinement vient souvent d'un dépôt.",
                "Tourne le barillet de réglage au levier, puis retends le câble si ça ne suffit pas. Vérifie aussi l'usure des patins.",
                "Pour la ville, des patins bien réglés suffisent et se réparent partout ; les disques freinent mieux sous la pluie."]),
    "dérailleur": (["Les vitesses ne passent plus bien depuis que j'ai fait tomber le vélo.",
                    "Comment régler les vis de butée H et L du dérailleur arrière ?"],
                   ["Regarde la patte de dérailleur : après une chute elle est souvent tordue, l'atelier peut la redresser.",
                    "Vis H pour le petit pignon, vis L pour le grand ; règle-les câble détendu, puis la tension à la molette."]),
    "pression": (["Quelle pression pour des pneus de 35 mm en ville ?",
                  "Je gonfle à combien pour rouler sur les pavés sans tout casser ?"],
                 ["Autour de 3,5 à 4 bars pour du 35 mm selon ton poids ; un peu moins sur pavés pour le confort.",
                  "Regarde la fourchette sur le flanc du pneu et reste dans le bas pour les pavés."]),
    "éclairage": (["Quel éclairage vous conseillez pour les trajets de nuit en hiver ?",
                   "Ma dynamo moyeu n'allume plus le phare avant, par où commencer ?"],
                  ["Un phare d'au moins 30 lux et un feu arrière fixe ; la dynamo moyeu évite d'oublier de recharger.",
                   "Vérifie d'abord la cosse au niveau du moyeu : elle se débranche souvent avec les vibrations."]),
    "batterie": (["La batterie de mon vélo électrique perd vite sa charge avec le froid.",
                  "Comment stocker la batterie du VAE pendant l'hiver ?"],
                 ["Le froid réduit l'autonomie : garde la batterie à l'intérieur et installe-la juste avant de partir.",
                  "Stocke-la entre 40 et 60 % de charge, au sec et à température ambiante, et recharge-la tous les mois."]),
    "antivol": (["Quel antivol pour laisser le vélo devant la gare toute la journée ?"],
                ["Un U homologué plus un câble pour la roue avant, et attache toujours le cadre à un point fixe."]),
}
EN_TOPICS = [("My chain keeps skipping under load, any idea what to check first?",
              "Check chain wear with a gauge first; a worn chain skips on a worn cassette."),
             ("What tyre pressure do you run for 35 mm commuter tyres?",
              "Around 50 to 60 psi works for me, a little lower on cobbles."),
             ("Is it worth converting my city bike to tubeless?",
              "For a commuter I would keep tubes: easier roadside repairs and less maintenance.")]
THANKS = ["Merci beaucoup, c'était bien la patte de dérailleur !", "Merci, ça a marché du premier coup.",
          "Top, merci pour l'astuce !", "Merci, je n'aurais jamais pensé à regarder ça.", "Génial, problème réglé, merci 🙏",
          "Thanks a lot, that fixed it!"]
CARNET_REPLIES = ["Sortie de 40 km le long du canal ce week-end, météo parfaite.",
                  "J'ai enfin changé mes plaquettes tout seul grâce au tuto de Jeanne.",
                  "Petit trajet boulot-maison sous la pluie, les garde-boue ont fait le job.",
                  "Balade en famille, les enfants ont tenu 15 km, fierté.", "J'ai réparé le vélo de ma voisine, chaîne changée.",
                  "Première sortie de nuit avec le nouvel éclairage, ça change tout.",
                  "Rando de 80 km, j'ai crevé une fois, rustine posée en 5 minutes.",
                  "Rode my bike to work every day this week, first time ever!"]
WELCOME_NEW = ["Salut ! Je viens d'acheter un vélo d'occasion et je n'y connais rien, hâte d'apprendre.",
               "Bonjour à tous, cycliste du dimanche qui veut apprendre à entretenir son vélo.",
               "Hello, je roule tous les jours pour aller au travail, content d'être là.",
               "Coucou, on m'a conseillé la communauté pour réparer mon vieux vélo de course."]
WELCOME_REPLY = ["Bienvenue ! Passe au jeudi réparation, on y apprend plein de choses.",
                 "Bienvenue parmi nous, n'hésite pas à poser tes questions dans #atelier.",
                 "Salut et bienvenue, le carnet du lundi est un bon endroit pour commencer."]
BRAND_OK = ["Petit point stock : les garde-boue 45 mm sont de retour jeudi, désolés pour l'attente de ces trois semaines.",
            "On s'est trompés sur la date de l'atelier mobile : c'est samedi 10h, pas dimanche. Merci Nora de l'avoir signalé.",
            "L'atelier ferme exceptionnellement mardi, les réparations en cours seront prêtes mercredi.",
            "Vous étiez nombreux à demander le couple de serrage des prolongateurs : c'est 5 Nm, on l'ajoute à la fiche.",
            "Merci à tous pour vos retours sur le prototype de porte-bagages, on revoit la fixation avant la série."]
BRAND_DRIFT = ["PROMO FLASH -30% sur tous les antivols, DERNIÈRE CHANCE ce soir minuit !!! Dépêche-toi !!!",
               "Partage ce post, like notre page et tague 3 amis pour gagner un casque ! Offre exclusive réservée aux plus rapides 🎁🎁🎁🎁",
               "Laissez-nous un avis 5 étoiles, suivez-nous sur Insta, abonnez-vous à la newsletter et parlez de nous autour de vous !",
               "Vous avez une question sur votre chaîne ? Le mieux reste d'acheter notre kit entretien premium à 89 €, stock limité !"]
PROMOTER_POSTS = ["Check my shop for cheap bike parts!!! link in bio, subscribe to my channel",
                  "Grosses promos sur ma boutique en ligne, code MAX10, foncez !",
                  "Nouvelle vidéo sur ma chaîne, abonnez-vous et activez la cloche 🔔",
                  "Vends pneus neufs à prix cassés, MP moi vite avant rupture"]


class History:
    def __init__(self) -> None:
        self.rows: list[dict] = []
        self.n = 0
        self.rng = random.Random(7)

    def member(self, sid: str, name: str, role: str = "member", joined: datetime | None = None, **consent: str) -> None:
        self.rows.append({"type": "member", "source_id": sid, "name": name, "role": role,
                          "joined_at": (joined or START - timedelta(days=200)).isoformat(), **consent})

    def msg(self, author: tuple[str, str], when: datetime, text: str, *, channel: str, kind: str = "post",
            reply_to: str | None = None, thread: str | None = None, solution: bool = False, lang: str = "fr",
            reactions: dict[str, int] | None = None) -> str:
        self.n += 1
        mid = f"m{self.n:04d}"
        self.rows.append({"type": "message", "source_id": mid, "channel": channel, "author": author[0],
                          "author_name": author[1], "created_at": when.isoformat(), "text": text,
                          "reply_to": reply_to, "thread": thread or mid, "kind": kind, "is_solution": solution,
                          "lang": lang, "reactions": reactions or {}, "permalink": BASE_URL + mid})
        return mid

    def at(self, week: int, day: int, hour: int) -> datetime:
        return START + timedelta(weeks=week, days=day, hours=hour - 8, minutes=self.rng.randint(0, 59))


def build() -> list[dict]:
    h = History()
    r = h.rng
    for sid, name in STAFF:
        h.member(sid, name, "staff")
    h.member(*BOT, role="bot")
    for sid, name in HELPERS + REGULARS + QUIET + ENGLISH:
        h.member(sid, name, consent_spotlight="opt_in" if sid != "theo" else "opt_out")
    h.member(*PROMOTER)
    for i, (sid, name) in enumerate(NEWCOMERS):
        h.member(sid, name, joined=START + timedelta(weeks=i, days=1))
    active = HELPERS + REGULARS
    for week in range(WEEKS):
        # Monday logbook
        carnet = h.msg(STAFF[0], h.at(week, 0, 9), f"Le carnet du lundi, semaine {week + 1} : raconte ta sortie ou ta réparation de la semaine, photo bienvenue.",
                       channel="sorties", reactions={"🚲": r.randint(2, 9)})
        for author in r.sample(active + ENGLISH + QUIET[:1], r.randint(6, 9)):
            text = r.choice(CARNET_REPLIES)
            reply = h.msg(author, h.at(week, 0, r.randint(10, 21)), text, channel="sorties", kind="comment",
                          reply_to=carnet, thread=carnet, lang="en" if text.startswith("Rode") else "fr",
                          reactions={"👏": r.randint(0, 5)})
            if r.random() < 0.5:
                h.msg(r.choice(active), h.at(week, 1, r.randint(8, 20)), "Bravo ! Tu as pris quel itinéraire ?",
                      channel="sorties", kind="comment", reply_to=reply, thread=carnet)
        # Welcome thread with this week's newcomer
        welcome = h.msg(BOT, h.at(week, 1, 9), "Fil de bienvenue : présente-toi et dis-nous ce que tu roules ! Deux membres à suivre cette semaine : Jeanne et Sam.",
                        channel="bienvenue")
        newcomer = NEWCOMERS[week]
        hello = h.msg(newcomer, h.at(week, 1, r.randint(10, 20)), r.choice(WELCOME_NEW), channel="bienvenue",
                      kind="comment", reply_to=welcome, thread=welcome)
        for author in r.sample(HELPERS + REGULARS[:3], 2):
            h.msg(author, h.at(week, 1, r.randint(12, 22)), r.choice(WELCOME_REPLY), channel="bienvenue",
                  kind="comment", reply_to=hello, thread=welcome)
        # Thursday repair Q&A and member questions through the week
        jeudi = h.msg(STAFF[1], h.at(week, 3, 18), "Jeudi réparation : posez vos questions, l'atelier et les membres experts répondent jusqu'à 20h.",
                      channel="atelier", reactions={"🔧": r.randint(3, 8)})
        askers = [newcomer] + r.sample(REGULARS + QUIET, 4) + ([ENGLISH[week % 2]] if week % 3 == 0 else [])
        for i, asker in enumerate(askers):
            english = asker in ENGLISH
            if english:
                q_text, a_text = r.choice(EN_TOPICS)
            else:
                topic = r.choice(list(TOPICS))
                q_text, a_text = r.choice(TOPICS[topic][0]), r.choice(TOPICS[topic][1])
            in_jeudi = i < 2
            q = h.msg(asker, h.at(week, 3 if in_jeudi else r.randint(0, 6), r.randint(8, 21)), q_text,
                      channel="atelier", kind="question", reply_to=jeudi if in_jeudi else None,
                      thread=jeudi if in_jeudi else None, lang="en" if english else "fr")
            thread = jeudi if in_jeudi else q
            if r.random() < 0.12 and not in_jeudi:
                continue  # left unanswered: a weak signal for vitality
            helper = r.choice(HELPERS) if r.random() < 0.75 else r.choice(STAFF)
            a = h.msg(helper, h.at(week, 4, r.randint(8, 21)), a_text, channel="atelier", kind="answer",
                      reply_to=q, thread=thread, solution=r.random() < 0.5, lang="en" if english else "fr",
                      reactions={"👍": r.randint(1, 7)})
            if r.random() < 0.4:
                other = r.choice([x for x in HELPERS if x != helper])
                h.msg(other, h.at(week, 4, r.randint(8, 21)), "Et pense à vérifier le serrage de l'axe de roue au passage.",
                      channel="atelier", kind="comment", reply_to=a, thread=thread)
            if r.random() < 0.7:
                h.msg(asker, h.at(week, 5, r.randint(8, 21)), "Thanks a lot, that fixed it!" if english else r.choice(THANKS[:-1]),
                      channel="atelier", kind="comment", reply_to=a, thread=thread, lang="en" if english else "fr")
        # General chatter
        for _ in range(r.randint(3, 5)):
            h.msg(r.choice(REGULARS + HELPERS), h.at(week, r.randint(0, 6), r.randint(8, 22)),
                  r.choice(["Quelqu'un va à la vélorution samedi ?", "Vous rangez vos vélos comment dans un petit appartement ?",
                            "Je recommande l'atelier associatif du quartier, super accueil.",
                            "Conseil du jour : un chiffon sec sur la chaîne après la pluie, ça évite la rouille.",
                            "Je conseille Roue Libre à tous mes collègues, le vélo tient depuis 4 ans."]),
                  channel="general", reactions={"❤️": r.randint(0, 6)})
        # Brand announcements: mostly genuine, a few drifting
        if week % 3 == 2:
            h.msg(STAFF[0], h.at(week, 2, 11), BRAND_DRIFT[(week // 3) % len(BRAND_DRIFT)], channel="annonces",
                  reactions={"😐": r.randint(0, 3)})
        h.msg(STAFF[0], h.at(week, 4, 10), BRAND_OK[week % len(BRAND_OK)], channel="annonces",
              reactions={"👍": r.randint(2, 12)})
        # A chatterbox who talks a lot and rarely helps
        for _ in range(r.randint(4, 6)):
            h.msg(REGULARS[1], h.at(week, r.randint(0, 6), r.randint(8, 23)),
                  r.choice(["Quelqu'un a vu le match hier ?", "Il pleut encore, je reste au chaud aujourd'hui.",
                            "Petite pause café avant de reprendre la route.", "Vous avez des idées de podcast vélo ?",
                            "Je me demande si je vais repeindre mon cadre en vert.", "Trop beau temps ce matin !"]),
                  channel="general", reactions={"😄": r.randint(0, 2)})
        # The self-promoter: chatty, never helps
        for _ in range(r.randint(5, 7)):
            h.msg(PROMOTER, h.at(week, r.randint(0, 6), r.randint(8, 23)), r.choice(PROMOTER_POSTS), channel="general",
                  lang="en" if "shop" in PROMOTER_POSTS[0] else "fr")
    h.msg(STAFF[0], START + timedelta(weeks=WEEKS - 1, days=6, hours=2),
          "Your feedback in English is welcome too: we read every message and answer in both languages.",
          channel="general", lang="en")
    return h.rows


if __name__ == "__main__":
    rows = build()
    OUT.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), encoding="utf-8")
    print(f"{sum(r['type'] == 'message' for r in rows)} messages, {sum(r['type'] == 'member' for r in rows)} members -> {OUT}")
