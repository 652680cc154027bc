"""A tiny inline French corpus and a fast engine on the fake embedder, for unit tests."""

from __future__ import annotations

from pathlib import Path

from chatbot.answer.support import Calibration
from chatbot.config import Settings
from chatbot.engine import Engine
from chatbot.index.chunk import ChunkSettings
from chatbot.index.fake import FakeEmbedder
from chatbot.index.store import build_index
from chatbot.records import Document

DOCS = [
    Document(
        doc_id="ocrelizumab",
        source="ocrelizumab.md",
        title="Une avancée thérapeutique : l'ocrelizumab",
        authors=("Dr Laure Michel",),
        publication="Le Courrier de la Ligue",
        date="2020",
        text=(
            "L'ocrelizumab est un anticorps monoclonal humanisé dirigé contre la protéine CD20.\n\n"
            "La tolérance d'Ocrevus est globalement bonne. Les effets secondaires les plus "
            "fréquents sont les réactions à la perfusion. 34% des patients traités par "
            "ocrelizumab ont présenté au moins un épisode de réaction à la perfusion. "
            "Un taux d'infections herpétiques plus important a été retrouvé dans le groupe "
            "ocrelizumab.\n\n"
            "Le traitement s'administre par perfusion en hôpital de jour, puis tous les 6 mois."
        ),
    ),
    Document(
        doc_id="biotine",
        source="biotine.md",
        title="Déception sur l'étude de la biotine",
        authors=("Dr Jean-Christophe Ouallet",),
        publication="Le Courrier de la Ligue",
        date="2020",
        text=(
            "L'étude de la biotine SPI2 est négative. Cette grande étude de confirmation "
            "concernant la biotine à forte dose dans les formes progressives ne montre pas "
            "d'efficacité sur la marche."
        ),
    ),
    Document(
        doc_id="sport",
        source="sport.md",
        title="Bougez !",
        authors=("Dr Anne Blanchard-Dauphin",),
        publication="Le Courrier de la Ligue",
        date="2020",
        text=(
            "Le Pilates a un impact significatif sur la perception de la fatigue, la qualité "
            "de vie, l'équilibre et les capacités de marche. L'activité physique régulière est "
            "bénéfique dans la sclérose en plaques."
        ),
    ),
]

# Set by hand for the fake embedder: answer when the corpus knows the question's words and a
# passage shares them.
FAKE_CALIBRATION = Calibration(
    weights={"unknown_terms": -4.0, "passage_dense": 10.0, "rankings_agree": 1.0}, bias=-1.0
)


def fake_engine(tmp: Path | None = None, docs: list[Document] | None = None) -> Engine:
    embedder = FakeEmbedder()
    index = build_index(docs or DOCS, embedder, ChunkSettings(60, 10), corpus_digest="test")
    settings = Settings(index_dir=tmp or Path("unused"), top_k=10)
    return Engine(index, embedder, settings, calibration=FAKE_CALIBRATION)
