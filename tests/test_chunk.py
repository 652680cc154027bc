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
