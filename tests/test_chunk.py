"""How documents are cut into passages: what retrieval ranks and what answers quote."""

from __future__ import annotations

from chatbot.index.chunk import ChunkSettings, chunk_documents
from chatbot.index.fake import FakeEmbedder
from chatbot.records import Document

PRIZES = (
    "Le congrès a réuni huit experts internationaux venus de Suisse, du Canada et d'Allemagne.\n\n"
    "Ils ont présenté les progrès de l'imagerie de la moelle épinière dans la maladie.\n\n"
    "Deux prix ont été décernés à de jeunes chercheurs :\n\n"
    "Nolwenn Jegou (Rennes) et Nilser Laines Medina (Marseille)\n\n"
    "Leurs recherches portent sur l'imagerie de pointe de la moelle épinière."
)


def test_no_passage_ends_on_an_announcement_whose_list_is_in_the_next_passage():
    doc = Document(doc_id="irm", source="irm.md", title="IRM", text=PRIZES)
    # 42 tokens with an overlap of 20 cut this text right after the announcement.
    chunks = chunk_documents([doc], FakeEmbedder().count_tokens, ChunkSettings(42, 20))
    announcing = [c for c in chunks if "Deux prix" in c.text]
    # Only the passage that also holds the names has the announcement, so a question on the
    # prizes finds that one, not one that stops before the answer.
    assert announcing and all("Nolwenn Jegou" in c.text for c in announcing)
    # Nothing of the document is lost.
    assert all(p in " ".join(c.text for c in chunks) for p in PRIZES.split("\n\n"))


GRAFT = (
    "Deux greffes sont étudiées dans la maladie, aux objectifs différents.\n\n"
    "Cellules souches mésenchymateuses\n\n"
    "Ces cellules réparent les tissus et modulent les réponses immunitaires.\n\n"
    "Plusieurs essais ont comparé leur injection à un placebo chez des patients actifs.\n\n"
    "L'objectif primaire était le nombre de lésions à 24 semaines.\n\n"
    "Aucune différence n'était retrouvée versus placebo, malgré une tolérance acceptable."
)


def test_a_passage_in_the_middle_of_a_section_is_found_by_its_heading_s_words():
    from chatbot.index.chunk import passage_text
    from tests.helpers import fake_engine

    doc = Document(
        doc_id="greffe",
        source="greffe.md",
        title="Greffe",
        text=GRAFT,
        headings=("Cellules souches mésenchymateuses",),
    )
    chunks = chunk_documents([doc], FakeEmbedder().count_tokens, ChunkSettings(40, 10))
    result = next(c for c in chunks if "Aucune différence" in c.text)
    # The passage with the trial's result never names the cells: its section's heading does.
    assert "mésenchymateuses" not in result.text
    assert result.section == "Cellules souches mésenchymateuses"
    assert "mésenchymateuses" in passage_text(result)
    # A passage that opens before the heading, or holds it, gets no section of its own.
    assert chunks[0].section == ""
    engine = fake_engine(docs=[doc])
    hits = engine.retriever.search("les cellules mesenchymateuses ca marche ?", 10, "lexical").hits
    assert any("Aucune différence" in h.chunk.text for h in hits)
